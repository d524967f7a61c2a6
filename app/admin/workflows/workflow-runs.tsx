'use client';

import { useCallback, useState } from 'react';
import { FilterBar, getJson as getJsonAs, usePolling } from '../admin-client';

type RunStatus = 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
const RUN_STATUSES: RunStatus[] = ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];
const REFRESH_MS = 3_000;

interface RunSummary {
  id: string;
  name: string;
  status: RunStatus;
  currentStep: string | null;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
  durationMs: number;
}
interface Step {
  seq: number;
  name: string;
  kind: 'step' | 'sleep' | 'wait' | 'map';
  attempt: number;
  completedAt: string;
  durationMs: number | null;
  output: string | null;
  wakeAt: string | null;
  event: string | null;
  resolvedAt: string | null;
  items: { total: number; done: number; failed: number; errors: { index: number; error: string }[] } | null;
}
interface RunDetail extends RunSummary {
  input: string | null;
  output: string | null;
  advance: {
    jobId: string;
    status: string;
    attempts: number;
    maxAttempts: number;
    runAt: string;
    errors: { attempt: number; at: string; message: string }[];
  } | null;
  steps: Step[];
}

const getJson = <T,>(url: string) => getJsonAs<T>(url, '/admin/workflows');

export function duration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

function RunBadge({ status }: { status: RunStatus }) {
  return (
    <span className={`badge badge-${status === 'RUNNING' ? 'PROCESSING' : status}`} data-status={status}>
      {status === 'RUNNING' && <span className="spinner" aria-hidden />}
      {status}
    </span>
  );
}

/** What a stored step did, in a word, and what it waited for. */
function stepState(step: Step): { label: string; className: string; detail: string | null } {
  if (step.kind === 'sleep') {
    const over = step.wakeAt !== null && new Date(step.wakeAt).getTime() <= Date.now();
    return {
      label: over ? 'slept' : 'sleeping',
      className: over ? 'COMPLETED' : 'PENDING',
      detail: step.wakeAt ? `until ${new Date(step.wakeAt).toLocaleString()}` : null,
    };
  }
  if (step.kind === 'wait') {
    if (step.resolvedAt === null) return { label: 'waiting', className: 'PENDING', detail: `for event ${step.event}` };
    return {
      label: step.output === null ? 'timed out' : 'event received',
      className: 'COMPLETED',
      detail: `${step.event} at ${new Date(step.resolvedAt).toLocaleTimeString()}`,
    };
  }
  if (step.kind === 'map' && step.items) {
    const { done, total, failed } = step.items;
    const label = done < total ? 'fanning out' : failed > 0 ? 'items failed' : 'done';
    return {
      label,
      className: done < total ? 'PROCESSING' : failed > 0 ? 'FAILED' : 'COMPLETED',
      detail: `${done} of ${total} items done${failed ? `, ${failed} failed` : ''}`,
    };
  }
  return { label: 'done', className: 'COMPLETED', detail: null };
}

function Timeline({ run }: { run: RunDetail }) {
  const stored = new Set(run.steps.map((s) => s.name));
  const pending = run.currentStep !== null && !stored.has(run.currentStep) && run.status !== 'COMPLETED' && run.status !== 'CANCELLED' ? run.currentStep : null;
  const pendingErrors = run.advance?.errors ?? [];
  return (
    <ol className="timeline" data-testid="timeline">
      {run.steps.map((step) => {
        const state = stepState(step);
        return (
          <li key={step.seq} data-step={step.name} data-state={state.label}>
            <div className="row spread">
              <span>
                <span className={`badge badge-${state.className}`}>{state.label}</span> <strong>{step.name}</strong>{' '}
                <span className="muted small">{step.kind}</span>
              </span>
              <span className="muted small">
                attempt {step.attempt} · {duration(step.durationMs)} · {new Date(step.completedAt).toLocaleTimeString()}
              </span>
            </div>
            {state.detail && <div className="muted small">{state.detail}</div>}
            {step.items?.errors.map((e) => (
              <div key={e.index} className="error small">
                item {e.index}: {e.error}
              </div>
            ))}
            {step.output !== null && (
              <details className="small">
                <summary>output</summary>
                <pre className="mono preview">{step.output}</pre>
              </details>
            )}
          </li>
        );
      })}
      {pending && (
        <li data-step={pending} data-state={run.status === 'FAILED' ? 'failed' : 'current'}>
          <div className="row spread">
            <span>
              <span className={`badge badge-${run.status === 'FAILED' ? 'FAILED' : 'PROCESSING'}`}>
                {run.status === 'FAILED' ? 'failed' : pendingErrors.length > 0 ? 'retrying' : 'next'}
              </span>{' '}
              <strong>{pending}</strong>
            </span>
            {run.advance && (
              <span className="muted small">
                attempt {run.advance.attempts} of {run.advance.maxAttempts}
                {run.advance.status === 'PENDING' && ` · due ${new Date(run.advance.runAt).toLocaleTimeString()}`}
              </span>
            )}
          </div>
          {run.status === 'FAILED' && run.error && <div className="error small mono">{run.error}</div>}
          {pendingErrors.map((e) => (
            <div key={e.attempt} className="error small mono">
              attempt {e.attempt}: {e.message}
            </div>
          ))}
        </li>
      )}
    </ol>
  );
}

function RunPanel({ id, canMutate, onClose, onChanged }: { id: string; canMutate: boolean; onClose: () => void; onChanged: () => void }) {
  const [run, setRun] = useState<RunDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const load = useCallback(
    () =>
      getJson<{ run: RunDetail }>(`/api/admin/workflows/${id}`).then(
        (r) => setRun(r.run),
        (e: Error) => setError(e.message),
      ),
    [id],
  );
  usePolling(load, REFRESH_MS);

  async function act(action: 'retry' | 'cancel') {
    if (!run || !window.confirm(`${action === 'retry' ? 'Retry' : 'Cancel'} ${run.name} run ${run.id}?`)) return;
    const response = await fetch(`/api/admin/workflows/${action}?runId=${run.id}`, { method: 'POST' });
    const body = await response.json().catch(() => ({}));
    setNotice(
      response.ok
        ? { ok: true, text: `${action === 'retry' ? 'Retried' : 'Cancelled'} run ${run.id}` }
        : { ok: false, text: `Could not ${action}: ${body.error ?? response.status}` },
    );
    await load();
    onChanged();
  }

  return (
    <section className="panel detail" data-testid="run-detail">
      <div className="row spread">
        <h2>
          Run <span className="mono">{id}</span>
        </h2>
        <span className="row">
          {canMutate && run?.status === 'FAILED' && (
            <button className="secondary" onClick={() => act('retry')}>
              Retry from failed step
            </button>
          )}
          {canMutate && run?.status === 'RUNNING' && (
            <button className="danger" onClick={() => act('cancel')}>
              Cancel run
            </button>
          )}
          <button className="secondary" onClick={onClose}>
            Close
          </button>
        </span>
      </div>
      {error && <p className="error">{error}</p>}
      {notice && (
        <div className={`notice ${notice.ok ? 'ok' : 'err'}`} role="status" data-testid="run-notice">
          {notice.text}
        </div>
      )}
      {run && (
        <>
          <dl>
            <dt>Workflow</dt>
            <dd>{run.name}</dd>
            <dt>Status</dt>
            <dd>
              <RunBadge status={run.status} />
            </dd>
            <dt>Started</dt>
            <dd>{new Date(run.createdAt).toLocaleString()}</dd>
            <dt>Duration</dt>
            <dd>
              {duration(run.durationMs)}
              {run.completedAt ? '' : ' so far'}
            </dd>
            <dt>Input</dt>
            <dd className="mono">{run.input ?? '—'}</dd>
            <dt>Output</dt>
            <dd className="mono">{run.output ?? '—'}</dd>
            {run.error && (
              <>
                <dt>Error</dt>
                <dd className="mono error">{run.error}</dd>
              </>
            )}
          </dl>
          <h3 className="small-heading">Timeline</h3>
          {run.steps.length === 0 && !run.currentStep ? <p className="muted">No step has run yet.</p> : <Timeline run={run} />}
        </>
      )}
    </section>
  );
}

export function WorkflowRuns({ email, canMutate }: { email: string; canMutate: boolean }) {
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [status, setStatus] = useState<RunStatus | ''>('');
  const [name, setName] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const filter = new URLSearchParams({ limit: '50', ...(status ? { status } : {}), ...(name.trim() ? { name: name.trim() } : {}) });
      setRuns((await getJson<{ runs: RunSummary[] }>(`/api/admin/workflows?${filter}`)).runs);
      setLoadError(null);
    } catch (error) {
      setLoadError((error as Error).message);
    }
  }, [status, name]);

  usePolling(refresh, REFRESH_MS);

  return (
    <>
      <div className="row spread gap-below">
        <h1 className="page-title">Workflow runs</h1>
        <span className="muted">
          {email} · <a href="/admin/queue-monitor">Queue monitor</a>
        </span>
      </div>
      {loadError && <div className="notice err">Refresh failed: {loadError}</div>}
      {selected && <RunPanel id={selected} canMutate={canMutate} onClose={() => setSelected(null)} onChanged={refresh} />}
      <section className="panel">
        <FilterBar
          idPrefix="runs"
          statuses={RUN_STATUSES}
          status={status}
          onStatus={setStatus}
          textLabel="Workflow"
          placeholder="e.g. ingestion"
          text={name}
          onText={setName}
          note="newest 50"
        />
        <div className="table-wrap" tabIndex={0}>
          <table data-testid="runs">
            <thead>
              <tr>
                <th>Run</th>
                <th>Workflow</th>
                <th>Status</th>
                <th>Current step</th>
                <th className="hide-sm">Started</th>
                <th className="hide-sm">Duration</th>
              </tr>
            </thead>
            <tbody>
              {runs?.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No runs.
                  </td>
                </tr>
              )}
              {runs?.map((run) => (
                <tr key={run.id} className="clickable" data-run-id={run.id} onClick={() => setSelected(run.id)}>
                  <td className="mono">{run.id}</td>
                  <td>{run.name}</td>
                  <td>
                    <RunBadge status={run.status} />
                  </td>
                  <td>{run.currentStep ?? '—'}</td>
                  <td className="hide-sm">{new Date(run.createdAt).toLocaleTimeString()}</td>
                  <td className="hide-sm">{duration(run.durationMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
