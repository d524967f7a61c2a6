/**
 * Serves a web handler (`(Request) => Response`, what a Next.js route exports) on a local port,
 * the way `next start` would: so a cron route that starts more invocations of itself by HTTP can
 * be called, and call itself, for real. Counts the calls it serves and how many run at once (a
 * call runs until its answer's body has been sent).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export interface ServedRoute {
  url: string;
  calls: number;
  running: number;
  maxRunning: number;
  /** Resolves when no call is running (after at least one ran). */
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function serveRoute(handler: (request: Request) => Promise<Response>, path = '/api/cron'): Promise<ServedRoute> {
  const state = { calls: 0, running: 0, maxRunning: 0 };
  const server = http.createServer(async (req, res) => {
    state.calls++;
    state.maxRunning = Math.max(state.maxRunning, ++state.running);
    const done = () => void state.running--;
    res.once('close', done);
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
      const response = await handler(new Request(`http://127.0.0.1:${(server.address() as AddressInfo).port}${req.url}`, { headers }));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body) Readable.fromWeb(response.body as never).pipe(res);
      else res.end();
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
  server.keepAliveTimeout = 1;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return {
    url,
    get calls() {
      return state.calls;
    },
    get running() {
      return state.running;
    },
    get maxRunning() {
      return state.maxRunning;
    },
    async idle(timeoutMs = 30_000) {
      for (const deadline = Date.now() + timeoutMs; state.running > 0 || state.calls === 0;) {
        if (Date.now() > deadline) throw new Error(`still ${state.running} calls running after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
