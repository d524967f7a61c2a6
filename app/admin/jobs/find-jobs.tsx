'use client';

import { useCallback, useEffect, useState } from 'react';
import { getJson as getJsonAs } from '../admin-client';
import { Detail, JobActions, StatusBadge } from '../queue-monitor/queue-monitor';

type Status = 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
const STATUSES: Status[] = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED'];
type Action = 'retry' | 'cancel' | 'delete';

/** The filter as the URL carries it (and the search and bulk APIs take it). */
export type FilterFields = Partial<Record<'id' | 'type' | 'status' | 'from' | 'to' | 'error' | 'payload', string>>;

interface JobRow {
  id: string;
  jobType: string;
  status: Status;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  completedAt: string | null;
}
interface Page {
  jobs: JobRow[];
  nextCursor: string | null;
  windowEnded: boolean;
}
interface BulkView {
  bulkId: string;
  action: Action;
  filter: Record<string, unknown>;
  requestedBy: string | null;
  matched: number | null;
  affected: number;
  done: boolean;
  createdAt: string;
  finishedAt: string | null;
}

const page = () => `/admin/jobs${window.location.search}`;
const getJson = <T,>(url: string) => getJsonAs<T>(url, page());
const postJson = async <T,>(url: string, body: unknown): Promise<T> => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
  return answer as T;
};

const clean = (f: FilterFields): FilterFields =>
  Object.fromEntries(
    Object.entries(f)
      .filter(([, v]) => v && v.trim() !== '')
      .map(([k, v]) => [k, v!.trim()]),
  );
/** datetime-local has no zone: it is the browser's local time. */
const toIso = (local: string | undefined) => (local ? new Date(local).toISOString() : undefined);
const toLocal = (iso: string | undefined) => {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const ACTION_STATES: Record<Action, string> = { retry: 'failed or cancelled', cancel: 'waiting or running', delete: 'finished' };

/** Search over every job (URL-shareable filters, cursor pages), job detail, and (ADMIN) bulk actions on every match. */
export function FindJobs({ email, initial, canAct, canBulk }: { email: string; initial: FilterFields; canAct: boolean; canBulk: boolean }) {
  const [form, setForm] = useState<FilterFields>({ ...initial, from: toLocal(initial.from), to: toLocal(initial.to) });
  const [filter, setFilter] = useState<FilterFields>(clean(initial));
  const [results, setResults] = useState<JobRow[] | null>(null);
  const [next, setNext] = useState<{ cursor: string | null; windowEnded: boolean }>({ cursor: null, windowEnded: false });
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);

  const search = useCallback(async (f: FilterFields, cursor: string | null) => {
    setLoading(true);
    try {
      const query = new URLSearchParams({ ...f, limit: '50', ...(cursor ? { cursor } : {}) });
      const found = await getJson<Page>(`/api/admin/queue/jobs?${query}`);
      setResults((current) => (cursor && current ? [...current, ...found.jobs] : found.jobs));
      setNext({ cursor: found.nextCursor, windowEnded: found.windowEnded });
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => void search(filter, null), [filter, search]);

  function submit(event: React.FormEvent) {
    event.preventDefault();
    const f = clean({ ...form, from: toIso(form.from), to: toIso(form.to) });
    window.history.replaceState(null, '', `/admin/jobs${Object.keys(f).length ? `?${new URLSearchParams(f)}` : ''}`);
    setSelected(null);
    setFilter(f);
  }

  async function act(action: 'retry' | 'cancel', job: JobRow) {
    if (!window.confirm(`${action === 'retry' ? 'Retry' : 'Cancel'} ${job.jobType} job ${job.id}?`)) return;
    try {
      await postJson(`/api/admin/queue/${action}?jobId=${job.id}`, {});
      setNotice({ ok: true, text: `${action === 'retry' ? 'Retried' : 'Cancelled'} job ${job.id}` });
    } catch (e) {
      setNotice({ ok: false, text: `Could not ${action} job ${job.id}: ${(e as Error).message}` });
    }
    await search(filter, null);
  }

  const field = (name: keyof FilterFields, label: string, placeholder: string, type = 'text') => (
    <div>
      <label htmlFor={`find-${name}`}>{label}</label>
      <input
        id={`find-${name}`}
        type={type}
        placeholder={placeholder}
        value={form[name] ?? ''}
        onChange={(e) => setForm({ ...form, [name]: e.target.value })}
      />
    </div>
  );

  return (
    <>
      <div className="row spread gap-below">
        <h1 className="page-title">Find jobs</h1>
        <span className="muted">
          {email} · <a href="/admin/queue-monitor">Queue monitor</a> · <a href="/admin/workflows">Workflow runs</a>
        </span>
      </div>
      <section className="panel">
        <form className="find-form" onSubmit={submit} aria-label="Job search">
          {field('id', 'Job id or its beginning', 'e.g. 01a2…')}
          {field('type', 'Type', 'e.g. SEND_EMAIL')}
          <div>
            <label htmlFor="find-status">Status</label>
            <select id="find-status" value={form.status ?? ''} onChange={(e) => setForm({ ...form, status: e.target.value })}>
              <option value="">All</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
          {field('from', 'Created from', '', 'datetime-local')}
          {field('to', 'Created before', '', 'datetime-local')}
          {field('error', 'Error text', 'e.g. timeout')}
          {field('payload', 'Payload', 'e.g. customerId = 42')}
          <div>
            <button type="submit" disabled={loading}>
              Search
            </button>
          </div>
        </form>
        {error && (
          <div className="notice err" role="alert">
            {error}
          </div>
        )}
      </section>
      {canBulk && <BulkActions filter={filter} onDone={() => search(filter, null)} />}
      <section className="panel">
        <h2>Matching jobs</h2>
        {notice && (
          <div className={`notice ${notice.ok ? 'ok' : 'err'}`} role="status" data-testid="notice">
            {notice.text}
          </div>
        )}
        <p className="muted" data-testid="result-note">
          {results === null ? 'Searching…' : `${results.length} shown, newest first`}
          {next.windowEnded && ' · this page read as far as one request may (20,000 jobs); more may match further back'}
        </p>
        <div className="table-wrap" tabIndex={0}>
          <table data-testid="found-jobs">
            <thead>
              <tr>
                <th>Job</th>
                <th className="hide-sm">Type</th>
                <th>Status</th>
                <th className="hide-sm">Attempts</th>
                <th className="hide-sm">Created</th>
                {canAct && <th>Actions</th>}
              </tr>
            </thead>
            <tbody>
              {results?.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No matching jobs{next.cursor ? ' yet' : ''}.
                  </td>
                </tr>
              )}
              {results?.map((job) => (
                <tr key={job.id} className="clickable" data-job-id={job.id} onClick={() => setSelected(job.id)}>
                  <td title={job.id}>
                    <button type="button" className="link mono" aria-label={`Show job ${job.id}`}>
                      …{job.id.slice(-12)}
                    </button>
                    <span className="show-sm small">{job.jobType}</span>
                  </td>
                  <td className="hide-sm">{job.jobType}</td>
                  <td>
                    <StatusBadge status={job.status} />
                  </td>
                  <td className="hide-sm">
                    {job.attempts}/{job.maxAttempts}
                  </td>
                  <td className="hide-sm">{new Date(job.createdAt).toLocaleString()}</td>
                  {canAct && <JobActions job={job} act={act} />}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {next.cursor && (
          <button className="secondary space-above" disabled={loading} onClick={() => search(filter, next.cursor)}>
            {next.windowEnded ? 'Search further back' : 'More'}
          </button>
        )}
      </section>
      {selected && <Detail key={selected} id={selected} onClose={() => setSelected(null)} onOpen={setSelected} />}
      <BulkLog />
    </>
  );
}

/** ADMIN: count what the current search matches, confirm that count, then act on every match in batches. */
function BulkActions({ filter, onDone }: { filter: FilterFields; onDone: () => void }) {
  const [action, setAction] = useState<Action>('retry');
  const [count, setCount] = useState<{ matching: number; complete: boolean; action: Action; filter: FilterFields } | null>(null);
  const [progress, setProgress] = useState<BulkView | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  // A count belongs to one action on one filter: a new search asks for a new count.
  const current = count && count.action === action && JSON.stringify(count.filter) === JSON.stringify(filter) ? count : null;

  async function dryRun() {
    setBusy(true);
    setMessage(null);
    try {
      const answer = await postJson<{ matching: number; complete: boolean }>('/api/admin/queue/bulk', { action, filter, dryRun: true });
      setCount({ ...answer, action, filter });
    } catch (e) {
      setMessage({ ok: false, text: `Could not count: ${(e as Error).message}` });
    } finally {
      setBusy(false);
    }
  }

  async function run() {
    if (!current) return;
    const n = `${current.complete ? '' : 'at least '}${current.matching.toLocaleString()}`;
    if (
      !window.confirm(
        `${action[0]!.toUpperCase()}${action.slice(1)} ${n} matching jobs (only those ${ACTION_STATES[action]})? This acts on every match, not only the page shown.`,
      )
    )
      return;
    setBusy(true);
    try {
      let view = await postJson<BulkView>('/api/admin/queue/bulk', { action, filter, confirmCount: current.matching });
      setProgress(view);
      while (!view.done) {
        view = await postJson<BulkView>('/api/admin/queue/bulk', { bulkId: view.bulkId });
        setProgress(view);
      }
      setMessage({ ok: true, text: `${action} done: ${view.affected.toLocaleString()} jobs changed` });
      setCount(null);
      onDone();
    } catch (e) {
      setMessage({ ok: false, text: `Bulk ${action} stopped: ${(e as Error).message}` });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel" data-testid="bulk">
      <h2>Act on every match</h2>
      <p className="muted">Acts on all jobs the search above matches, not only the ones shown, in batches; each action is kept in the log below.</p>
      <div className="toolbar">
        <div>
          <label htmlFor="bulk-action">Action</label>
          <select id="bulk-action" value={action} onChange={(e) => setAction(e.target.value as Action)}>
            <option value="retry">Retry (failed, cancelled)</option>
            <option value="cancel">Cancel (waiting, running)</option>
            <option value="delete">Delete (finished)</option>
          </select>
        </div>
        <button className="secondary" disabled={busy} onClick={dryRun}>
          Count matching
        </button>
        {current && (
          <button className="danger" disabled={busy || current.matching === 0} onClick={run} data-testid="bulk-run">
            {action[0]!.toUpperCase()}
            {action.slice(1)} {current.complete ? '' : 'at least '}
            {current.matching.toLocaleString()} jobs
          </button>
        )}
      </div>
      {current && (
        <p data-testid="bulk-count">
          {current.complete ? '' : 'At least '}
          {current.matching.toLocaleString()} jobs match.
        </p>
      )}
      {progress && !progress.done && <p role="status">Working: {progress.affected.toLocaleString()} changed so far…</p>}
      {message && (
        <div className={`notice ${message.ok ? 'ok' : 'err'}`} role="status" data-testid="bulk-notice">
          {message.text}
        </div>
      )}
    </section>
  );
}

function BulkLog() {
  const [actions, setActions] = useState<BulkView[] | null>(null);
  const load = useCallback(
    () =>
      getJson<{ actions: BulkView[] }>('/api/admin/queue/bulk-actions').then(
        (r) => setActions(r.actions),
        () => {},
      ),
    [],
  );
  useEffect(() => {
    void load();
    const timer = setInterval(load, 5_000);
    return () => clearInterval(timer);
  }, [load]);
  if (!actions || actions.length === 0) return null;
  return (
    <section className="panel" data-testid="bulk-log">
      <h2>Bulk action log</h2>
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th className="hide-sm">Filter</th>
              <th>Changed</th>
            </tr>
          </thead>
          <tbody>
            {actions.map((a) => (
              <tr key={a.bulkId}>
                <td>{new Date(a.createdAt).toLocaleString()}</td>
                <td>{a.requestedBy ?? '—'}</td>
                <td>{a.action}</td>
                <td className="hide-sm mono small">{JSON.stringify(a.filter)}</td>
                <td>
                  {a.affected.toLocaleString()}
                  {a.matched !== null && ` of ${a.matched.toLocaleString()} counted`}
                  {!a.done && ' (running)'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
