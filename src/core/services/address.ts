/** Where a server listens, in words: `127.0.0.1:5432`, or a Unix socket's path (`/…/.s.PGSQL.5432`, the embedded server's). */
export function addressText(address: { readonly host: string; readonly port: number }): string {
  return address.host.startsWith('/') ? `${address.host}/.s.PGSQL.${address.port}` : `${address.host}:${address.port}`;
}

/**
 * Who owns a container, in words for the Containers view, from the point of view of session
 * `self`; undefined when it is `self`. The ids are sessions.ts's PARKED_OWNER and CLI_OWNER
 * (repeated here so that the view loads nothing of the engine).
 */
export function ownerText(owner: string | undefined, self: string): string | undefined {
  if (owner === self) return undefined;
  if (owner === 'cli') return 'shared with `data-labs services up`';
  if (owner === 'parked') return 'parked';
  return owner === undefined ? 'owner unknown' : 'shared with another window';
}
