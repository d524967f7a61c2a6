/**
 * The summary: one Markdown table, padded so it reads in a terminal and pastes into a note as is.
 * Each figure sits next to its raw-SQL yardstick from the same run; ratios are what carry over
 * between machines, absolute figures do not.
 */
import { fmtInt, percentile } from './bench-db';
import type { ReadTiming } from './reads';
import type { TierResult } from './tiers';

export interface SummaryRow {
  name: string;
  conveyor: string;
  raw: string;
  ratio: string;
  vsBase: string;
}

const NONE = '–';
const pct = (x: number) => `${(x * 100).toFixed(0)} %`;

export function throughputRow(name: string, conveyor: number, raw: number): SummaryRow {
  return { name, conveyor: fmtInt(conveyor), raw: fmtInt(raw), ratio: pct(conveyor / raw), vsBase: NONE };
}

/** A raw figure with no Conveyor counterpart (yet): printed so a later row can be set against it. */
export function yardstickRow(name: string, raw: number): SummaryRow {
  return { name, conveyor: NONE, raw: fmtInt(raw), ratio: NONE, vsBase: NONE };
}

/** p50 as a difference (what a user waits on top), p95 and p99 as ratios (how the tail grows). */
/** Latency percentiles of each side, each the lowest over that side's rounds (of samples in ms). */
export function latencyRows(label: string, conveyor: number[][], raw: number[][]): SummaryRow[] {
  const best = (rounds: number[][], p: number) => Math.min(...rounds.map((samples) => percentile(samples, p)));
  return ([50, 95, 99] as const).map((p) => {
    const c = best(conveyor, p);
    const r = best(raw, p);
    const ratio = p === 50 ? `${c - r >= 0 ? '+' : ''}${(c - r).toFixed(2)} ms` : `${(c / r).toFixed(2)}x`;
    return { name: `${label} p${p} (ms)`, conveyor: c.toFixed(2), raw: r.toFixed(2), ratio, vsBase: NONE };
  });
}

/** Each tier against the raw loop at the same backlog, and against its own figure at the smallest backlog. */
export function tierRows(tiers: TierResult[], jobs: number): SummaryRow[] {
  const base = tiers[0];
  if (!base) return [];
  return tiers.flatMap((t) => {
    const at = `backlog ${fmtInt(t.backlog)}, ${fmtInt(jobs)} jobs`;
    return [
      { ...throughputRow(`worker process, ${at}`, t.worker, t.raw), vsBase: pct(t.worker / base.worker) },
      { ...throughputRow(`serverless drains, ${at}`, t.drain, t.raw), vsBase: pct(t.drain / base.drain) },
      { ...yardstickRow(`raw claim-1 loop, ${at}`, t.raw), vsBase: pct(t.raw / base.raw) },
    ];
  });
}

export function readRows(rows: number, timings: ReadTiming[]): SummaryRow[] {
  return timings.map(({ name, ms }) => ({ name: `${name} at ${fmtInt(rows)} jobs (ms)`, conveyor: ms.toFixed(1), raw: NONE, ratio: NONE, vsBase: NONE }));
}

export function printSummary(rows: SummaryRow[], baseBacklog: number | undefined): void {
  const header: SummaryRow = {
    name: 'benchmark (jobs/s unless marked)',
    conveyor: 'conveyor',
    raw: 'raw SQL',
    ratio: 'conveyor / raw',
    vsBase: baseBacklog === undefined ? 'vs smallest backlog' : `vs backlog ${fmtInt(baseBacklog)}`,
  };
  const keys = ['name', 'conveyor', 'raw', 'ratio', 'vsBase'] as const;
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...[header, ...rows].map((r) => r[k].length))]));
  const line = (r: SummaryRow) => `| ${keys.map((k) => (k === 'name' ? r[k].padEnd(width[k]) : r[k].padStart(width[k]))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${keys.map((k) => (k === 'name' ? '-'.repeat(width[k] + 2) : `${'-'.repeat(width[k] + 1)}:`)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}
