/**
 * Plan checks of the queue's own statements: record the text and parameters of every named
 * statement real library calls run, then EXPLAIN each the two ways Postgres may plan it.
 */
import pg from 'pg';
// pg's own conversion of a parameter to its text form (arrays, dates, JSON), as it sends them.
// @ts-expect-error pg ships no types for its utils module
import { prepareValue } from 'pg/lib/utils.js';
import { expect } from 'vitest';

export interface Recorded {
  text: string;
  values: unknown[];
}

/** A pool whose clients note, in `recorded`, the first text and parameters of every named statement they run. */
export function recordingPool(url: string, recorded: Map<string, Recorded>): pg.Pool {
  const p = new pg.Pool({ connectionString: url, max: 3, options: '-c plan_cache_mode=force_generic_plan' });
  p.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
      const c = config as { name?: string; text?: string; values?: unknown[] };
      if (typeof c === 'object' && c?.name?.startsWith('conveyor.') && !recorded.has(c.name)) {
        recorded.set(c.name, { text: c.text!, values: c.values ?? [] });
      }
      return query(config, ...rest);
    };
  });
  return p;
}

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** How each plan node reads job_queue: "Seq Scan", or the name of the index it scans. */
export function jobQueueReads(node: PlanNode): string[] {
  const own = node['Relation Name'] === 'job_queue' && /Scan/.test(node['Node Type']) ? [node['Index Name'] ?? node['Node Type']] : [];
  return [...own, ...(node.Plans ?? []).flatMap(jobQueueReads)];
}

/** A parameter as text; a Buffer is a binary uuid[] (literals.ts), read back by the server. */
async function asText(client: pg.PoolClient, value: unknown): Promise<string> {
  if (!Buffer.isBuffer(value)) return String(prepareValue(value));
  expect(value.readInt32BE(8)).toBe(2950);
  return (await client.query<{ ids: string }>('SELECT $1::uuid[]::text AS ids', [value])).rows[0]!.ids;
}

/** The plan of a recorded statement, generic (parameters unknown) or custom (the recorded ones). */
export async function explainPlan(client: pg.PoolClient, mode: 'force_generic_plan' | 'force_custom_plan', statement: Recorded) {
  const { text, values } = statement;
  await client.query(`SET plan_cache_mode = ${mode}`);
  await client.query('DEALLOCATE ALL');
  await client.query(`PREPARE hot AS ${text}`);
  const args = await Promise.all(values.map(async (v) => (v === null || v === undefined ? 'NULL' : client.escapeLiteral(await asText(client, v)))));
  const { rows } = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE hot${args.length ? `(${args.join(', ')})` : ''}`);
  return (rows[0]['QUERY PLAN'] as [{ Plan: PlanNode & { 'Total Cost': number }; JIT?: unknown }])[0];
}
