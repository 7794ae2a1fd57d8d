/**
 * The HTTP client of the adapters: their services and providers are the grader's, on
 * 127.0.0.1, called hundreds of times in a grade. Node's own `http` with kept-alive
 * connections: `fetch` would load undici in every learner process the grader starts (about
 * 40 ms each, and a crash check starts dozens).
 */
import * as http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** Told of each request as it is sent, in the sender's async context ("POST /inventory/reserve"). */
const outbound = new Set<(call: string) => void>();

/**
 * Calls `listener` with each request as it is sent, from the code that sends it (its async
 * context: adapters/pgDb.ts sees whether that code is inside a transaction). Returns the
 * function that stops it.
 */
export function watchOutboundCalls(listener: (call: string) => void): () => void {
  outbound.add(listener);
  return () => outbound.delete(listener);
}

function callName(method: string, url: string): string {
  try {
    return `${method} ${new URL(url).pathname}`;
  } catch {
    return `${method} ${url}`;
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

/** POSTs a JSON body; rejects when the whole answer has not arrived within `timeoutMs`, or the connection fails. */
export function postJson(url: string, body: string, options: { readonly timeoutMs: number; readonly headers?: Readonly<Record<string, string>> }): Promise<HttpAnswer> {
  for (const listener of outbound) {
    listener(callName('POST', url));
  }
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { ...options.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => {
        clearTimeout(deadline);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text });
      });
      response.on('error', reject);
    });
    const deadline = setTimeout(() => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    request.on('error', (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    request.end(body);
  });
}
