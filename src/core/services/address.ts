/** Where a server listens, in words: `127.0.0.1:5432`, or a Unix socket's path (`/…/.s.PGSQL.5432`, the embedded server's). */
export function addressText(address: { readonly host: string; readonly port: number }): string {
  return address.host.startsWith('/') ? `${address.host}/.s.PGSQL.${address.port}` : `${address.host}:${address.port}`;
}
