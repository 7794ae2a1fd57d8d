/**
 * The lab manifest (`labs/<id>/lab.json`) and its schema. A manifest that does not
 * match is reported with the file and the field named, and never stops other labs
 * from loading.
 */
import * as path from 'node:path';
import * as z from '../schema';
import { SECTION_IDS, findChecklistItem } from '../curriculum/curriculum';

/** Services a lab can ask for. The container runtime that starts them arrives with issue 3. */
export const SERVICE_KINDS = ['postgres', 'redis', 'memcached'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

const relativeFile = z.string().check(
  z.minLength(1),
  z.refine((p: string) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'), {
    message: 'must be a relative path inside the lab folder (no "..", not absolute)',
  }),
);

const serviceSchema = z
  .strictObject({
    service: z.enum(SERVICE_KINDS),
    count: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(5)), 1),
    /** Whether an embedded engine can honestly stand in for this service without Docker. */
    embedded: z._default(z.boolean(), false),
    /**
     * Server settings the lab needs (PostgreSQL's `-c name=value`, e.g.
     * `max_prepared_transactions`), applied on Docker when the container is made.
     */
    settings: z.optional(
      z
        .record(z.string(), z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a plain value (letters, digits, "_", ".", "-")')))
        .check(z.refine((r) => Object.keys(r).every((name) => /^[a-z_]{1,63}$/.test(name)), { message: 'each name must be a PostgreSQL setting name (lower-case letters and "_")' })),
    ),
    /**
     * Whether every container of this service gets one user and password. A PostgreSQL
     * standby made from a base backup has its primary's roles and passwords, whatever it was
     * created with: with one set for both, `.env` stays true after the copy.
     */
    sameCredentials: z._default(z.boolean(), false),
  })
  .check(
    z.refine((s) => s.settings === undefined || s.service === 'postgres', { message: 'settings are PostgreSQL server settings: only a postgres service takes them', path: ['settings'] }),
    z.refine((s) => s.settings === undefined || !s.embedded, { message: 'settings are applied to Docker containers only: a service with settings cannot be embedded', path: ['settings'] }),
  );

const checkSchema = z.strictObject({
  id: z.string().check(z.regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lower-case words joined by "-"')),
  /** A line, as the Testing view and the report list it. */
  title: z.string().check(z.minLength(3)),
  /** The property in full, as the report shows it under "expected". */
  expects: z.string().check(z.minLength(10)),
  /**
   * Whether the check can be decided only on Docker (its scenario needs what the embedded
   * engine cannot do: transactions at the same time, container faults); the learner is told
   * before grading, and on the embedded engine it is "unknown". The grader's scenario agrees.
   */
  needsDocker: z._default(z.boolean(), false),
});

/**
 * The lab's hidden checks, decided by the grader in the lab's grader/ folder (bundled into
 * the product): each check one property, and demonstrations that show something and are
 * never graded. The grader's scenarios have exactly these ids, in this order.
 */
const graderSchema = z
  .strictObject({
    checks: z.array(checkSchema).check(z.minLength(1)),
    demonstrations: z._default(z.array(checkSchema), []),
  })
  .check(
    z.superRefine((g, ctx) => {
      const seen = new Set<string>();
      [...g.checks, ...g.demonstrations].forEach((c, i) => {
        if (seen.has(c.id)) {
          const inChecks = i < g.checks.length;
          ctx.issues.push({ code: 'custom', input: c.id, path: [inChecks ? 'checks' : 'demonstrations', inChecks ? i : i - g.checks.length, 'id'], message: `"${c.id}" is declared twice` });
        }
        seen.add(c.id);
      });
    }),
  );

export const labManifestSchema = z
  .strictObject({
    id: z.string().check(z.regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lower-case words joined by "-"')),
    title: z.string().check(z.minLength(3)),
    section: z.enum(SECTION_IDS),
    summary: z.string().check(z.minLength(10)),
    completes: z
      .array(z.string().check(z.refine((id: string) => findChecklistItem(id) !== undefined, { message: 'is not a checklist item id' })))
      .check(z.minLength(1)),
    services: z._default(z.array(serviceSchema), []),
    readme: z._default(relativeFile, 'README.md'),
    starter: z.strictObject({
      dir: relativeFile,
      /** The file opened beside the README; one of `files`. */
      main: relativeFile,
      files: z.array(relativeFile).check(z.minLength(1)),
    }),
    /** The visible tests, each one of the starter's files. */
    tests: z.array(relativeFile).check(z.minLength(1)),
    hints: z.array(z.strictObject({ title: z.string().check(z.minLength(1)), text: z.string().check(z.minLength(1)) })).check(z.minLength(1)),
    estimatedMinutes: z.optional(z.number().check(z.int(), z.positive())),
    /** The lab's hidden checks; a lab without them has only its visible tests. */
    grader: z.optional(graderSchema),
  })
  .check(
    z.superRefine((m, ctx) => {
      if (!m.starter.files.includes(m.starter.main)) {
        ctx.issues.push({ code: 'custom', input: m.starter.main, path: ['starter', 'main'], message: `"${m.starter.main}" is not listed in starter.files` });
      }
      m.tests.forEach((t, i) => {
        if (!m.starter.files.includes(t)) {
          ctx.issues.push({ code: 'custom', input: t, path: ['tests', i], message: `"${t}" is not listed in starter.files` });
        }
      });
    }),
  );

export type LabManifest = z.output<typeof labManifestSchema>;
export type CheckDeclaration = z.output<typeof checkSchema>;

export interface ManifestProblem {
  /** The manifest file the problem is in. */
  readonly file: string;
  /** The field, as a dotted path (`starter.files.2`), or empty for the whole file. */
  readonly field: string;
  readonly message: string;
}

export type ManifestResult =
  | { readonly ok: true; readonly manifest: LabManifest }
  | { readonly ok: false; readonly problems: readonly ManifestProblem[] };

/** Checks raw manifest text against the schema; never throws. */
export function parseManifest(text: string, file: string): ManifestResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [{ file, field: '', message: `is not valid JSON: ${(error as Error).message}` }] };
  }
  const result = labManifestSchema.safeParse(json);
  if (result.success) {
    return { ok: true, manifest: result.data };
  }
  return {
    ok: false,
    problems: result.error.issues.flatMap((issue): ManifestProblem[] => {
      const parent = issue.path.map(String);
      // An unknown key is a problem of that key, so name it as its own field.
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({ file, field: [...parent, key].join('.'), message: 'is not a known field (a typo?)' }));
      }
      return [{ file, field: parent.join('.'), message: issue.message }];
    }),
  };
}

export function formatProblem(p: ManifestProblem): string {
  return p.field ? `${p.file}: field "${p.field}" ${p.message}` : `${p.file}: ${p.message}`;
}
