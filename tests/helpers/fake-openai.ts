/**
 * A local HTTP server speaking the OpenAI embeddings API (POST /v1/embeddings), for tests of the
 * OpenAI-compatible provider. Each request takes the next scripted answer; after the script it
 * answers normally. Answers are real embeddings from the hashing model, so search still works.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hashingEmbedding } from '@/lib/embeddings/hashing-provider';

export type ScriptedAnswer =
  | { kind: 'ok'; dimensions?: number; delayMs?: number }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'malformed' };

export interface FakeOpenAI {
  baseURL: string;
  requests: { at: number; inputs: string[]; authorization: string | undefined }[];
  script: ScriptedAnswer[];
  defaultDelayMs: number;
  close(): Promise<void>;
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const state: Omit<FakeOpenAI, 'baseURL' | 'close'> = { requests: [], script: [], defaultDelayMs: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', async () => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        res.writeHead(404).end();
        return;
      }
      const parsed = JSON.parse(body) as { input: string | string[]; model: string };
      const inputs = Array.isArray(parsed.input) ? parsed.input : [parsed.input];
      state.requests.push({ at: Date.now(), inputs, authorization: req.headers.authorization });
      const answer = state.script.shift() ?? { kind: 'ok' };
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
      };
      if (answer.kind === 'status') {
        send(answer.status, answer.body ?? { error: { message: `scripted ${answer.status}`, type: 'scripted' } }, answer.headers);
        return;
      }
      if (answer.kind === 'malformed') {
        send(200, { object: 'list', data: 'not an array' });
        return;
      }
      const delay = answer.delayMs ?? state.defaultDelayMs;
      if (delay) await new Promise((r) => setTimeout(r, delay));
      const dimensions = answer.dimensions ?? 1536;
      send(200, {
        object: 'list',
        model: parsed.model,
        data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: hashingEmbedding(text).slice(0, dimensions) })),
        usage: { prompt_tokens: 0, total_tokens: 0 },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    baseURL: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as FakeOpenAI;
}
