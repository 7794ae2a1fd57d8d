/**
 * The graders of the labs this build carries, found at build time: every
 * `labs/<id>/grader/index.ts`, by lab id, each loaded on first use. esbuild.js generates
 * this module (its lab-graders plugin) for the bundles, and the Vitest configurations use the
 * same generator; no source file lists the labs.
 */
declare module 'data-labs:lab-graders' {
  /** Each lab's grader module, by lab id; labGraders.ts checks what it exports. */
  export const labGraderModules: Readonly<Record<string, () => Promise<unknown>>>;
}
