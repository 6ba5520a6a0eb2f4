import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  at: number;
}

/**
 * A real HTTP webhook receiver on 127.0.0.1 for tests: records every request; `behave(path, n)`
 * decides the answer to the n-th request (1-based) on a path: a status, or 'hang' to never answer.
 */
export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  behave: (path: string, n: number) => number | 'hang';
  /** Resolves when `predicate` holds for the requests so far (checked on every request). */
  waitFor(predicate: (r: ReceivedRequest[]) => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const counts = new Map<string, number>();
  const waiters = new Set<() => void>();
  const hung = new Set<ServerResponse>();
  const receiver: Receiver = {
    url: '',
    requests,
    behave: () => 200,
    async waitFor(predicate, ms = 60_000) {
      if (predicate(requests)) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: condition not met in ${ms} ms (${requests.length} requests)`));
        }, ms);
        const check = () => {
          if (predicate(requests)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
      });
    },
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      const answer = receiver.behave(path, n);
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        path,
        headers: req.headers,
        body,
        status: answer === 'hang' ? 0 : answer,
        at: Date.now(),
      });
      if (answer === 'hang') hung.add(res);
      else res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'not now');
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
