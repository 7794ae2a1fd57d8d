/**
 * Versions of a Quorum lab record, and their order: `ts` first, then the writer id as
 * bytes (the lab's compareVersions). The replicas keep only a newer version, the coordinators
 * return the newest, and the checkers judge by the same order. Pure: checkers may import it.
 */
export interface Version {
  readonly ts: number;
  readonly writer: string;
}

export interface Stored {
  readonly value: string;
  readonly version: Version;
}

/** Whether version a is newer than b (the order the replicas' write script applies). */
export function isNewer(a: Version, b: Version): boolean {
  return a.ts !== b.ts ? a.ts > b.ts : a.writer > b.writer;
}
