'use client';

import { useCallback, useEffect, useState } from 'react';
import { FilterBar, getJson as getJsonAs, usePolling } from '../admin-client';

type Status = 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
const STATUSES: Status[] = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED'];
const REFRESH_MS = 5_000;

interface JobSummary {
  id: string;
  jobType: string;
  status: Status;
  priority: number;
  attempts: number;
  maxAttempts: number;
  progress: { current: number; total: number; message: string } | null;
  result: unknown;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}
type Capped = { value: unknown; truncated: false } | { value: string; truncated: true; size: number };
interface JobDetail extends Omit<JobSummary, 'result'> {
  /** The job whose completion enqueued this one, and those this one's completion enqueued. */
  parentId?: string | null;
  childIds?: string[];
  payload: Capped;
  result: Capped;
  runAt: string;
  lockedUntil: string | null;
  lockedBy: string | null;
  concurrencyKey: string | null;
  errors: { attempt: number; at: string; message: string; kind: string }[];
}
interface Stats {
  queueStats: { pending: number; processing: number; completed: number; failed: number };
  recentJobs: JobSummary[];
  oldestPendingJob: { id: string; createdAt: string; ageMinutes: number } | null;
}
interface Point {
  minute: string;
  completed: number;
  failed: number;
  cancelled?: number;
}

const getJson = <T,>(url: string) => getJsonAs<T>(url, '/admin/queue-monitor');

export function StatusBadge({ status }: { status: Status }) {
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      {status === 'PROCESSING' && <span className="spinner" aria-hidden />}
      {status}
    </span>
  );
}

function ProgressBar({ progress }: { progress: JobSummary['progress'] }) {
  if (!progress || progress.total <= 0) return <span className="muted">—</span>;
  const pct = Math.min(100, Math.round((100 * progress.current) / progress.total));
  return (
    <div title={progress.message} className="progress-cell">
      <progress className="progress" value={pct} max={100} />
      <span className="muted small">
        {progress.current}/{progress.total}
      </span>
    </div>
  );
}

type Range = '1h' | '24h' | '7d';
const RANGES: Record<Range, { slots: number; bucketMinutes: number; label: string }> = {
  '1h': { slots: 60, bucketMinutes: 1, label: 'last hour, per minute' },
  '24h': { slots: 96, bucketMinutes: 15, label: 'last 24 hours, per 15 minutes' },
  '7d': { slots: 168, bucketMinutes: 60, label: 'last 7 days, per hour' },
};

/** Finished jobs per bucket from the counted history (retries and cleanup do not change it); a range and a type to choose. */
function ThroughputChart({ types }: { types: string[] }) {
  const [range, setRange] = useState<Range>('1h');
  const [type, setType] = useState('');
  const [points, setPoints] = useState<Point[]>([]);
  const load = useCallback(
    () =>
      getJson<{ points: Point[] }>(`/api/admin/queue/throughput?${new URLSearchParams({ range, ...(type ? { type } : {}) })}`).then(
        (r) => setPoints(r.points),
        () => {},
      ),
    [range, type],
  );
  usePolling(load, REFRESH_MS);
  const { slots: count, bucketMinutes, label } = RANGES[range];
  const bucketMs = bucketMinutes * 60_000;
  const now = Math.floor(Date.now() / bucketMs);
  const byBucket = new Map(points.map((p) => [Math.floor(new Date(p.minute).getTime() / bucketMs), p]));
  const slots = Array.from({ length: count }, (_, i) => byBucket.get(now - count + 1 + i) ?? { completed: 0, failed: 0 });
  const max = Math.max(1, ...slots.map((s) => s.completed + s.failed));
  const total = slots.reduce((sum, s) => ({ completed: sum.completed + s.completed, failed: sum.failed + s.failed }), { completed: 0, failed: 0 });
  const width = 600 / count;
  return (
    <div>
      <div className="toolbar">
        <div role="group" aria-label="Range" className="row">
          {(Object.keys(RANGES) as Range[]).map((r) => (
            <button key={r} type="button" className={r === range ? '' : 'secondary'} aria-pressed={r === range} onClick={() => setRange(r)}>
              {r}
            </button>
          ))}
        </div>
        <div>
          <label htmlFor="chart-type" className="sr-only">
            Job type
          </label>
          <select id="chart-type" value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">All types</option>
            {types.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
      </div>
      <svg
        className="chart"
        viewBox="0 0 600 120"
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label}: ${total.completed} completed, ${total.failed} failed`}
      >
        {slots.map((s, i) => {
          const hc = (s.completed / max) * 110;
          const hf = (s.failed / max) * 110;
          return (
            <g key={i}>
              <rect x={i * width + width * 0.1} y={120 - hc} width={width * 0.8} height={hc} fill="var(--completed)" />
              <rect x={i * width + width * 0.1} y={120 - hc - hf} width={width * 0.8} height={hf} fill="var(--failed)" />
            </g>
          );
        })}
      </svg>
      <div className="legend" data-testid="chart-legend">
        <span className="l-completed">{total.completed} completed</span>
        <span className="l-failed">{total.failed} failed</span>
        <span>
          {label}
          {type ? ` · ${type}` : ''} (peak {max})
        </span>
      </div>
    </div>
  );
}

/** A job's life from its rows' times and error history: created, each failed attempt, the last start, how it ended. */
function timeline(job: JobDetail): { at: string; text: string; error?: boolean }[] {
  const events: { at: string; text: string; error?: boolean }[] = [{ at: job.createdAt, text: 'enqueued' }];
  for (const e of job.errors) events.push({ at: e.at, text: `attempt ${e.attempt} failed (${e.kind}): ${e.message}`, error: true });
  if (job.startedAt && job.attempts > 0) events.push({ at: job.startedAt, text: `attempt ${job.attempts} started` });
  if (job.completedAt) events.push({ at: job.completedAt, text: job.status.toLowerCase(), error: job.status === 'FAILED' });
  else if (job.status === 'PENDING' && new Date(job.runAt) > new Date()) events.push({ at: job.runAt, text: 'due (waiting until then)' });
  return events.sort((a, b) => new Date(a.at).getTime() - new Date(b.at).getTime());
}

/** A payload or result, collapsed to its first line until opened; a cut one says how big it was. */
function JsonView({ label, data }: { label: string; data: Capped }) {
  if (!data.truncated && data.value === null) return <span className="muted">—</span>;
  const text = data.truncated ? `${data.value}…` : JSON.stringify(data.value, null, 2);
  return (
    <details className="json-view">
      <summary>
        {label}: <span className="mono small">{text.replace(/\s+/g, ' ').slice(0, 80)}</span>
      </summary>
      <pre className="mono small" data-testid={`json-${label.toLowerCase()}`}>
        {text}
      </pre>
      {data.truncated && (
        <p className="muted small">
          Cut at {data.value.length.toLocaleString()} of {data.size.toLocaleString()} characters.
        </p>
      )}
    </details>
  );
}

/** A job row's actions (MANAGER and up): retry a failed or cancelled job, cancel a waiting or running one. */
export function JobActions<J extends { status: Status }>({ job, act }: { job: J; act: (action: 'retry' | 'cancel', job: J) => void }) {
  return (
    <td onClick={(e) => e.stopPropagation()}>
      {(job.status === 'FAILED' || job.status === 'CANCELLED') && (
        <button className="secondary" onClick={() => act('retry', job)}>
          Retry
        </button>
      )}
      {(job.status === 'PENDING' || job.status === 'PROCESSING') && (
        <button className="danger" onClick={() => act('cancel', job)}>
          Cancel
        </button>
      )}
    </td>
  );
}

/** A button that opens another job's detail in place. */
function JobLink({ id, onOpen }: { id: string; onOpen: (id: string) => void }) {
  return (
    <button type="button" className="link mono" onClick={() => onOpen(id)} aria-label={`Show job ${id}`}>
      …{id.slice(-12)}
    </button>
  );
}

export function Detail({ id, onClose, onOpen }: { id: string; onClose: () => void; onOpen: (id: string) => void }) {
  const [job, setJob] = useState<JobDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    getJson<{ job: JobDetail }>(`/api/admin/queue/jobs/${id}`).then(
      (r) => setJob(r.job),
      (e: Error) => setError(e.message),
    );
    if (typeof EventSource === 'undefined') return;
    // Status and progress of this job as they change.
    const source = new EventSource(`/api/admin/queue/events?jobId=${id}`);
    source.addEventListener('job', (event) => {
      const update = JSON.parse((event as MessageEvent<string>).data) as Partial<JobDetail> | null;
      if (update) setJob((current) => (current ? { ...current, ...update } : current));
    });
    return () => source.close();
  }, [id]);
  return (
    <section className="panel detail" data-testid="job-detail">
      <div className="row spread">
        <h2>
          Job <span className="mono">{id}</span>
        </h2>
        <span className="row">
          <button className="secondary" onClick={() => void navigator.clipboard?.writeText(id)}>
            Copy id
          </button>
          <button className="secondary" onClick={onClose}>
            Close
          </button>
        </span>
      </div>
      {error && <p className="error">{error}</p>}
      {job && (
        <>
          <dl>
            <dt>Status</dt>
            <dd>
              <StatusBadge status={job.status} />
            </dd>
            <dt>Type</dt>
            <dd>{job.jobType}</dd>
            <dt>Attempts</dt>
            <dd>
              {job.attempts} of {job.maxAttempts}
            </dd>
            <dt>Priority</dt>
            <dd>{job.priority}</dd>
            <dt>Created</dt>
            <dd>{new Date(job.createdAt).toLocaleString()}</dd>
            <dt>Runs at</dt>
            <dd>{new Date(job.runAt).toLocaleString()}</dd>
            <dt>Started</dt>
            <dd>{job.startedAt ? new Date(job.startedAt).toLocaleString() : '—'}</dd>
            <dt>Finished</dt>
            <dd>{job.completedAt ? new Date(job.completedAt).toLocaleString() : '—'}</dd>
            <dt>Lease</dt>
            <dd>{job.lockedUntil ? `${job.lockedBy} until ${new Date(job.lockedUntil).toLocaleTimeString()}` : '—'}</dd>
            {job.concurrencyKey && (
              <>
                <dt>Concurrency key</dt>
                <dd>{job.concurrencyKey}</dd>
              </>
            )}
            <dt>Progress</dt>
            <dd>{job.progress ? `${job.progress.current}/${job.progress.total} ${job.progress.message}` : '—'}</dd>
            {job.parentId && (
              <>
                <dt>Chained from</dt>
                <dd data-testid="job-parent">
                  <JobLink id={job.parentId} onOpen={onOpen} />
                </dd>
              </>
            )}
            {job.childIds && job.childIds.length > 0 && (
              <>
                <dt>Chained next</dt>
                <dd data-testid="job-children" className="row">
                  {job.childIds.map((child) => (
                    <JobLink key={child} id={child} onOpen={onOpen} />
                  ))}
                </dd>
              </>
            )}
            <dt>Payload</dt>
            <dd>
              <JsonView label="Payload" data={job.payload} />
            </dd>
            <dt>Result</dt>
            <dd>
              <JsonView label="Result" data={job.result} />
            </dd>
          </dl>
          <h3 className="small-heading">Timeline</h3>
          <ol className="timeline" data-testid="job-timeline">
            {timeline(job).map((event, i) => (
              <li key={i} className={event.error ? 'error' : undefined}>
                <span className="muted small">{new Date(event.at).toLocaleString()}</span> {event.text}
              </li>
            ))}
          </ol>
          <h3 className="small-heading">Error history</h3>
          {job.errors.length === 0 ? (
            <p className="muted">No errors.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Attempt</th>
                  <th>When</th>
                  <th>Kind</th>
                  <th>Message</th>
                </tr>
              </thead>
              <tbody>
                {job.errors.map((e, i) => (
                  <tr key={i}>
                    <td>{e.attempt}</td>
                    <td>{new Date(e.at).toLocaleString()}</td>
                    <td>{e.kind}</td>
                    <td className="mono">{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

interface Paused {
  jobType: string;
  pausedAt: string;
  pausedBy: string | null;
}

/** Paused types, and (MANAGER and up) pausing and resuming one: every claim skips a paused type at once. */
function PausedTypes({ canPause, onChanged }: { canPause: boolean; onChanged: () => void }) {
  const [paused, setPaused] = useState<Paused[]>([]);
  const [type, setType] = useState('');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const load = useCallback(
    () =>
      getJson<{ paused: Paused[] }>('/api/admin/queue/paused').then(
        (r) => setPaused(r.paused),
        () => {},
      ),
    [],
  );
  usePolling(load, REFRESH_MS);
  async function set(jobType: string, pause: boolean) {
    const response = await fetch('/api/admin/queue/pause', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobType, paused: pause }),
    });
    const body = await response.json().catch(() => ({}));
    setMessage(
      response.ok
        ? { ok: true, text: `${jobType} ${pause ? 'paused' : 'resumed'}` }
        : { ok: false, text: `Could not ${pause ? 'pause' : 'resume'} ${jobType}: ${body.error ?? response.status}` },
    );
    if (response.ok && pause) setType('');
    await load();
    onChanged();
  }
  return (
    <section className="panel" data-testid="paused-types">
      <h2>Paused types</h2>
      {message && (
        <div className={`notice ${message.ok ? 'ok' : 'err'}`} role="status" data-testid="pause-notice">
          {message.text}
        </div>
      )}
      {paused.length === 0 ? (
        <p className="muted">None: every type is being claimed.</p>
      ) : (
        <ul className="plain-list">
          {paused.map((p) => (
            <li key={p.jobType} data-paused-type={p.jobType} className="row spread">
              <span>
                <strong>{p.jobType}</strong>{' '}
                <span className="muted small">
                  since {new Date(p.pausedAt).toLocaleString()}
                  {p.pausedBy ? ` by ${p.pausedBy}` : ''}
                </span>
              </span>
              {canPause && (
                <button className="secondary" onClick={() => set(p.jobType, false)}>
                  Resume {p.jobType}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {canPause && (
        <form
          className="row space-above"
          onSubmit={(e) => {
            e.preventDefault();
            if (type.trim()) void set(type.trim(), true);
          }}
        >
          <label htmlFor="pause-type" className="sr-only">
            Job type to pause
          </label>
          <input id="pause-type" placeholder="job type, e.g. SEND_EMAIL" value={type} onChange={(e) => setType(e.target.value)} />
          <button type="submit" className="danger">
            Pause type
          </button>
        </form>
      )}
    </section>
  );
}

interface ScheduleView {
  name: string;
  cron: string;
  timezone: string;
  jobType: string;
  paused: boolean;
  lastRunAt: string | null;
  lastJob: { id: string; status: Status } | null;
  nextRunAt: string | null;
}

/** Recurring jobs as stored: each one's next and last run and how the last went; ADMIN pauses, resumes, runs now. */
function Schedules({ canMutate, onChanged }: { canMutate: boolean; onChanged: () => void }) {
  const [schedules, setSchedules] = useState<ScheduleView[] | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const load = useCallback(
    () =>
      getJson<{ schedules: ScheduleView[] }>('/api/admin/queue/schedules').then(
        (r) => setSchedules(r.schedules),
        () => {},
      ),
    [],
  );
  usePolling(load, REFRESH_MS);
  async function act(name: string, action: 'pause' | 'resume' | 'run') {
    if (action === 'run' && !window.confirm(`Run schedule ${name} now?`)) return;
    const response = await fetch('/api/admin/queue/schedules', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, action }),
    });
    const body = await response.json().catch(() => ({}));
    const done = { pause: 'paused', resume: 'resumed', run: `ran now: job ${body.jobId}` }[action];
    setMessage(
      response.ok ? { ok: true, text: `Schedule ${name} ${done}` } : { ok: false, text: `Could not ${action} ${name}: ${body.error ?? response.status}` },
    );
    await load();
    onChanged();
  }
  if (!schedules || schedules.length === 0) return null;
  return (
    <section className="panel" data-testid="schedules">
      <h2>Schedules</h2>
      {message && (
        <div className={`notice ${message.ok ? 'ok' : 'err'}`} role="status" data-testid="schedule-notice">
          {message.text}
        </div>
      )}
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th className="hide-sm">Cron</th>
              <th>Next run</th>
              <th className="hide-sm">Last run</th>
              {canMutate && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {schedules.map((s) => (
              <tr key={s.name} data-schedule={s.name}>
                <td>
                  <strong>{s.name}</strong>
                  <span className="muted small show-sm">
                    {s.cron} ({s.timezone})
                  </span>
                  <div className="muted small">{s.jobType}</div>
                </td>
                <td className="hide-sm mono">
                  {s.cron} <span className="muted">({s.timezone})</span>
                </td>
                <td>{s.paused ? <span className="badge badge-CANCELLED">paused</span> : s.nextRunAt ? new Date(s.nextRunAt).toLocaleString() : '—'}</td>
                <td className="hide-sm">
                  {s.lastRunAt ? new Date(s.lastRunAt).toLocaleString() : 'never'} {s.lastJob && <StatusBadge status={s.lastJob.status} />}
                </td>
                {canMutate && (
                  <td className="row">
                    <button className="secondary" onClick={() => act(s.name, s.paused ? 'resume' : 'pause')}>
                      {s.paused ? 'Resume' : 'Pause'} {s.name}
                    </button>
                    <button className="secondary" onClick={() => act(s.name, 'run')}>
                      Run {s.name} now
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

interface TypeRow {
  jobType: string;
  pending: number;
  pendingAtLeast: boolean;
  processing: number;
  completedLastHour: number;
  failedLastHour: number;
  failureRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  oldestWaitingSeconds: number | null;
  limits: { concurrency: number | null; rate: { limit: number; periodMs: number } | null } | null;
  paused: boolean;
  handledAt: string | null;
  unhandled: boolean;
}

const ms = (value: number | null) => (value === null ? '—' : value < 1_000 ? `${Math.round(value)} ms` : `${(value / 1_000).toFixed(1)} s`);

/** Per job type: what waits and runs, how the last hour went, and the type's limits and pause. */
/** ADMIN: a type's limits, for every worker and cron tick at once (empty fields: no limit). */
function EditLimits({ types, onSaved }: { types: TypeRow[]; onSaved: () => void }) {
  const [jobType, setJobType] = useState('');
  const [concurrency, setConcurrency] = useState('');
  const [rateLimit, setRateLimit] = useState('');
  const [rateSeconds, setRateSeconds] = useState('');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  function pick(name: string) {
    setJobType(name);
    const limits = types.find((t) => t.jobType === name)?.limits;
    setConcurrency(limits?.concurrency ? String(limits.concurrency) : '');
    setRateLimit(limits?.rate ? String(limits.rate.limit) : '');
    setRateSeconds(limits?.rate ? String(limits.rate.periodMs / 1_000) : '');
  }
  async function save(event: React.FormEvent) {
    event.preventDefault();
    const body = {
      jobType: jobType.trim(),
      concurrency: concurrency.trim() ? Number(concurrency) : null,
      rate: rateLimit.trim() ? { limit: Number(rateLimit), periodMs: Math.round(Number(rateSeconds || '1') * 1_000) } : null,
    };
    const response = await fetch('/api/admin/queue/limits', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    const detail = answer.issues?.map((i: { path: string; message: string }) => `${i.path}: ${i.message}`).join('; ');
    setMessage(
      response.ok
        ? { ok: true, text: `Limits of ${body.jobType} saved` }
        : { ok: false, text: `Could not save: ${answer.error ?? response.status}${detail ? ` (${detail})` : ''}` },
    );
    onSaved();
  }
  return (
    <form className="find-form space-above" onSubmit={save} aria-label="Edit limits" data-testid="edit-limits">
      <div>
        <label htmlFor="limits-type">Type</label>
        <input id="limits-type" list="limits-types" value={jobType} onChange={(e) => pick(e.target.value)} placeholder="e.g. SEND_EMAIL" />
        <datalist id="limits-types">
          {types.map((t) => (
            <option key={t.jobType} value={t.jobType} />
          ))}
        </datalist>
      </div>
      <div>
        <label htmlFor="limits-concurrency">At most running at once</label>
        <input id="limits-concurrency" inputMode="numeric" value={concurrency} onChange={(e) => setConcurrency(e.target.value)} placeholder="no limit" />
      </div>
      <div>
        <label htmlFor="limits-rate">Starts per window</label>
        <input id="limits-rate" inputMode="numeric" value={rateLimit} onChange={(e) => setRateLimit(e.target.value)} placeholder="no limit" />
      </div>
      <div>
        <label htmlFor="limits-period">Window (seconds)</label>
        <input id="limits-period" inputMode="decimal" value={rateSeconds} onChange={(e) => setRateSeconds(e.target.value)} placeholder="1" />
      </div>
      <div>
        <button type="submit">Save limits</button>
      </div>
      {message && (
        <div className={`notice ${message.ok ? 'ok' : 'err'}`} role="status" data-testid="limits-notice">
          {message.text}
        </div>
      )}
    </form>
  );
}

function Types({ onTypes, canEditLimits }: { onTypes: (names: string[]) => void; canEditLimits: boolean }) {
  const [types, setTypes] = useState<TypeRow[] | null>(null);
  const load = useCallback(
    () =>
      getJson<{ types: TypeRow[] }>('/api/admin/queue/types').then(
        (r) => {
          setTypes(r.types);
          onTypes(r.types.map((t) => t.jobType));
        },
        () => {},
      ),
    [onTypes],
  );
  usePolling(load, REFRESH_MS);
  if (!types || types.length === 0) return null;
  return (
    <section className="panel" data-testid="types">
      <h2>Job types</h2>
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th>Type</th>
              <th>Waiting</th>
              <th className="hide-sm">Running</th>
              <th>Last hour</th>
              <th className="hide-sm">Run time p50 / p95</th>
              <th className="hide-sm">Longest wait</th>
              <th className="hide-sm">Limits</th>
            </tr>
          </thead>
          <tbody>
            {types.map((t) => (
              <tr key={t.jobType} data-type={t.jobType}>
                <td>
                  <strong>{t.jobType}</strong> {t.paused && <span className="badge badge-CANCELLED">paused</span>}
                  {t.unhandled && (
                    <span className="badge badge-FAILED" title={t.handledAt ? `last handled ${new Date(t.handledAt).toLocaleString()}` : 'never handled'}>
                      no worker
                    </span>
                  )}
                </td>
                <td>
                  {t.pending.toLocaleString()}
                  {t.pendingAtLeast && '+'}
                </td>
                <td className="hide-sm">{t.processing}</td>
                <td>
                  {t.completedLastHour} done
                  {t.failedLastHour > 0 && (
                    <span className="error">
                      , {t.failedLastHour} failed ({Math.round((t.failureRate ?? 0) * 100)} %)
                    </span>
                  )}
                </td>
                <td className="hide-sm">
                  {ms(t.p50Ms)} / {ms(t.p95Ms)}
                </td>
                <td className="hide-sm">{t.oldestWaitingSeconds === null ? '—' : ms(t.oldestWaitingSeconds * 1_000)}</td>
                <td className="hide-sm muted small">
                  {t.limits
                    ? [t.limits.concurrency && `${t.limits.concurrency} at once`, t.limits.rate && `${t.limits.rate.limit} per ${ms(t.limits.rate.periodMs)}`]
                        .filter(Boolean)
                        .join(', ')
                    : 'none'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {canEditLimits && <EditLimits types={types} onSaved={load} />}
    </section>
  );
}

/** `canAct` (MANAGER and up): retry and cancel a job, pause a type. `canMutate` (ADMIN): schedules, API keys. */
export function QueueMonitor({ email, canMutate, canAct }: { email: string; canMutate: boolean; canAct: boolean }) {
  const [stats, setStats] = useState<Stats | null>(null);
  const [jobs, setJobs] = useState<JobSummary[] | null>(null);
  const [typeNames, setTypeNames] = useState<string[]>([]);
  const [status, setStatus] = useState<Status | ''>('');
  const [type, setType] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);

  const refresh = useCallback(async () => {
    try {
      const filter = new URLSearchParams({ limit: '50', ...(status ? { status } : {}), ...(type.trim() ? { type: type.trim() } : {}) });
      const [s, j] = await Promise.all([
        getJson<Stats>('/api/admin/queue/stats'),
        status || type.trim() ? getJson<{ jobs: JobSummary[] }>(`/api/admin/queue/jobs?${filter}`).then((r) => r.jobs) : Promise.resolve(null),
      ]);
      setStats(s);
      setJobs(j);
      setLoadError(null);
      setUpdatedAt(new Date());
    } catch (error) {
      setLoadError((error as Error).message);
    }
  }, [status, type]);

  usePolling(refresh, REFRESH_MS);

  // Live updates when the server can stream them; the 5 s refresh above stays as the fallback.
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    const source = new EventSource('/api/admin/queue/events');
    source.addEventListener('stats', (event) => {
      setStats(JSON.parse((event as MessageEvent<string>).data) as Stats);
      setUpdatedAt(new Date());
      setLive(true);
    });
    source.onerror = () => setLive(false);
    return () => source.close();
  }, []);

  async function act(action: 'retry' | 'cancel', job: JobSummary) {
    if (!window.confirm(`${action === 'retry' ? 'Retry' : 'Cancel'} ${job.jobType} job ${job.id}?`)) return;
    const response = await fetch(`/api/admin/queue/${action}?jobId=${job.id}`, { method: 'POST' });
    const body = await response.json().catch(() => ({}));
    setNotice(
      response.ok
        ? { ok: true, text: `${action === 'retry' ? 'Retried' : 'Cancelled'} job ${job.id}` }
        : { ok: false, text: `Could not ${action} job ${job.id}: ${body.error ?? response.status}` },
    );
    await refresh();
  }

  const rows = jobs ?? stats?.recentJobs ?? [];
  const q = stats?.queueStats;
  return (
    <>
      <div className="row spread gap-below">
        <h1 className="page-title">Queue monitor</h1>
        <span className="muted">
          {email} · <a href="/admin/jobs">Find jobs</a> · <a href="/admin/workflows">Workflow runs</a> ·{' '}
          {canMutate && (
            <>
              <a href="/admin/api-keys">API keys</a> ·{' '}
            </>
          )}
          {live ? 'live · ' : ''}
          {updatedAt ? `updated ${updatedAt.toLocaleTimeString()}` : 'loading…'} ·{' '}
          <a
            href="#"
            onClick={async (e) => {
              e.preventDefault();
              await fetch('/api/auth/logout', { method: 'POST' });
              window.location.assign('/login');
            }}
          >
            sign out
          </a>
        </span>
      </div>
      {loadError && <div className="notice err">Refresh failed: {loadError}</div>}
      <div className="cards" data-testid="stats">
        <div className="card">
          <div className="label">Pending</div>
          <div className="value" data-testid="stat-pending">
            {q?.pending ?? '–'}
          </div>
        </div>
        <div className="card">
          <div className="label">Processing</div>
          <div className="value" data-testid="stat-processing">
            {q?.processing ?? '–'}
          </div>
        </div>
        <div className="card">
          <div className="label">Completed</div>
          <div className="value" data-testid="stat-completed">
            {q?.completed ?? '–'}
          </div>
        </div>
        <div className="card">
          <div className="label">Failed</div>
          <div className="value" data-testid="stat-failed">
            {q?.failed ?? '–'}
          </div>
        </div>
        <div className="card">
          <div className="label">Oldest pending</div>
          <div className="value">{stats ? (stats.oldestPendingJob ? `${stats.oldestPendingJob.ageMinutes} min` : 'none') : '–'}</div>
        </div>
      </div>
      <section className="panel">
        <h2>Throughput and failures</h2>
        <ThroughputChart types={typeNames} />
      </section>
      <Types onTypes={setTypeNames} canEditLimits={canMutate} />
      <PausedTypes canPause={canAct} onChanged={refresh} />
      <Schedules canMutate={canMutate} onChanged={refresh} />
      {selected && <Detail key={selected} id={selected} onClose={() => setSelected(null)} onOpen={setSelected} />}
      <section className="panel">
        <FilterBar
          idPrefix="jobs"
          statuses={STATUSES}
          status={status}
          onStatus={setStatus}
          textLabel="Type"
          placeholder="e.g. INGEST_DATA"
          text={type}
          onText={setType}
          note={jobs ? `${rows.length} matching (newest 50)` : 'Recent jobs'}
        />
        {notice && (
          <div className={`notice ${notice.ok ? 'ok' : 'err'}`} role="status" data-testid="notice">
            {notice.text}
          </div>
        )}
        <div className="table-wrap" tabIndex={0}>
          <table data-testid="jobs">
            <thead>
              <tr>
                <th>Job</th>
                <th className="hide-sm">Type</th>
                <th className="hide-sm">Status</th>
                <th className="hide-sm">Priority</th>
                <th className="hide-sm">Attempts</th>
                <th>Progress</th>
                <th className="hide-sm">Created</th>
                {canAct && <th>Actions</th>}
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 && (
                <tr>
                  <td colSpan={8} className="muted">
                    No jobs.
                  </td>
                </tr>
              )}
              {rows.map((job) => (
                <tr key={job.id} className="clickable" data-job-id={job.id} onClick={() => setSelected(job.id)}>
                  {/* A UUIDv7 begins with its time: jobs of one minute share their first characters, so the random end tells them apart. */}
                  {/* On a phone the type and status go under the id, so progress and actions stay on screen. */}
                  <td title={job.id}>
                    <span className="mono">…{job.id.slice(-12)}</span>
                    <span className="show-sm small">{job.jobType}</span>
                    <span className="show-sm">
                      <StatusBadge status={job.status} />
                    </span>
                  </td>
                  <td className="hide-sm">{job.jobType}</td>
                  <td className="hide-sm">
                    <StatusBadge status={job.status} />
                  </td>
                  <td className="hide-sm">{job.priority}</td>
                  <td className="hide-sm">
                    {job.attempts}/{job.maxAttempts}
                  </td>
                  <td>
                    <ProgressBar progress={job.progress} />
                  </td>
                  <td className="hide-sm">{new Date(job.createdAt).toLocaleTimeString()}</td>
                  {canAct && <JobActions job={job} act={act} />}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
