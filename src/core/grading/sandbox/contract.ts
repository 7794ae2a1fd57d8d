/** The exports a lab's grader requires of the learner's module, checked before anything runs. */

export type ExportType = 'function' | 'object' | 'string' | 'number' | 'boolean' | 'bigint' | 'symbol' | 'undefined';

/** What the learner's module exports, each name with its `typeof`. */
export interface ModuleExports {
  /** The entry, relative to the lab folder. */
  readonly file: string;
  readonly members: Readonly<Record<string, ExportType>>;
}

function withArticle(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * Checks that the module exports every required name with the required type. Returns one
 * problem per missing or mistyped export (empty when the contract holds), e.g.
 * `"handle" is not exported by src/main.ts (it exports: handler, default)`.
 */
export function checkContract(exports: ModuleExports, required: Readonly<Record<string, ExportType>>): string[] {
  const names = Object.keys(exports.members);
  const problems: string[] = [];
  for (const [name, type] of Object.entries(required)) {
    const actual = Object.hasOwn(exports.members, name) ? exports.members[name] : undefined;
    if (actual === undefined) {
      problems.push(`"${name}" is not exported by ${exports.file} (${names.length > 0 ? `it exports: ${names.join(', ')}` : 'it exports nothing'})`);
    } else if (actual !== type) {
      problems.push(`"${name}" in ${exports.file} is ${withArticle(actual)}, not ${withArticle(type)}`);
    }
  }
  return problems;
}
