'use client';

import { useCallback, useEffect, useState } from 'react';

interface Project {
  id: string;
  name: string;
  records: number;
  activeKeys: number;
}
interface Key {
  id: string;
  projectName: string;
  name: string;
  prefix: string;
  limits: { requestsPerMinute: number; recordsPerDay: number; embeddingsPerDay: number };
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the admin API's JSON, read field by field below
async function send(url: string, body?: unknown): Promise<{ ok: boolean; json: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { ok: response.ok, json: await response.json() };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the admin API's JSON, read field by field below
const problem = (json: any) =>
  `${json.error}${json.issues ? `: ${json.issues.map((i: { path: string; message: string }) => `${i.path} ${i.message}`).join('; ')}` : ''}`;

export function ApiKeys({ email }: { email: string }) {
  const [projects, setProjects] = useState<Project[]>([]);
  const [keys, setKeys] = useState<Key[]>([]);
  const [projectName, setProjectName] = useState('');
  const [keyProject, setKeyProject] = useState('');
  const [keyName, setKeyName] = useState('');
  const [created, setCreated] = useState<{ key: string; prefix: string; projectName: string } | null>(null);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);

  const refresh = useCallback(async () => {
    const response = await fetch('/api/admin/api-keys', { cache: 'no-store' });
    if (response.status === 401) return window.location.assign('/login?next=/admin/api-keys');
    const json = await response.json();
    if (!response.ok) return setNotice({ ok: false, text: problem(json) });
    setProjects(json.projects);
    setKeys(json.keys);
    setKeyProject((current) => current || json.projects[0]?.id || '');
  }, []);
  useEffect(() => void refresh(), [refresh]);

  async function addProject(event: React.FormEvent) {
    event.preventDefault();
    const { ok, json } = await send('/api/admin/projects', { name: projectName });
    setNotice(ok ? { ok, text: `Project ${json.project.name} created` } : { ok, text: problem(json) });
    if (ok) {
      setProjectName('');
      setKeyProject(json.project.id);
    }
    await refresh();
  }

  async function addKey(event: React.FormEvent) {
    event.preventDefault();
    const { ok, json } = await send('/api/admin/api-keys', { projectId: keyProject, name: keyName });
    if (ok) {
      setCreated({ key: json.key, prefix: json.apiKey.prefix, projectName: json.apiKey.projectName });
      setKeyName('');
      setNotice(null);
    } else setNotice({ ok, text: problem(json) });
    await refresh();
  }

  async function revoke(key: Key) {
    if (!window.confirm(`Revoke ${key.prefix} (${key.name})? Requests with it are refused at once.`)) return;
    const { ok, json } = await send(`/api/admin/api-keys/revoke?id=${encodeURIComponent(key.id)}`);
    setNotice(ok ? { ok, text: `Revoked ${key.prefix}` } : { ok, text: problem(json) });
    await refresh();
  }

  return (
    <>
      <div className="row spread gap-below">
        <h1 className="page-title">API keys</h1>
        <span className="muted">
          {email} · <a href="/admin/queue-monitor">queue monitor</a>
        </span>
      </div>
      {notice && <div className={`notice ${notice.ok ? 'ok' : 'err'}`}>{notice.text}</div>}
      {created && (
        <div className="notice ok" data-testid="new-key">
          New key for {created.projectName}, shown this once (only its hash is kept):
          <div className="mono space-above-sm" data-testid="new-key-value">
            {created.key}
          </div>
          <div className="mono space-above-sm">
            curl -H &quot;Authorization: Bearer {created.key}&quot; &quot;{typeof window === 'undefined' ? '' : window.location.origin}/api/search?q=fox&quot;
          </div>
          <button type="button" className="secondary space-above-sm" onClick={() => setCreated(null)}>
            I have saved it
          </button>
        </div>
      )}
      <section className="panel">
        <h2 className="small-heading">Projects</h2>
        <table>
          <thead>
            <tr>
              <th>name</th>
              <th>records</th>
              <th>active keys</th>
            </tr>
          </thead>
          <tbody>
            {projects.map((p) => (
              <tr key={p.id}>
                <td>{p.name}</td>
                <td>{p.records}</td>
                <td>{p.activeKeys}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <form className="row space-above" onSubmit={addProject}>
          <input
            aria-label="New project name"
            placeholder="new project name"
            value={projectName}
            onChange={(e) => setProjectName(e.target.value)}
            required
            maxLength={200}
          />
          <button type="submit">Create project</button>
        </form>
      </section>
      <section className="panel">
        <h2 className="small-heading">Keys</h2>
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>prefix</th>
                <th>project</th>
                <th>name</th>
                <th>limits</th>
                <th>created</th>
                <th>last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} data-testid={`key-${k.prefix}`}>
                  <td className="mono">{k.prefix}</td>
                  <td>{k.projectName}</td>
                  <td>{k.name}</td>
                  <td className="small">
                    {k.limits.requestsPerMinute}/min · {k.limits.recordsPerDay} records/day · {k.limits.embeddingsPerDay} embeddings/day
                  </td>
                  <td className="small">{new Date(k.createdAt).toLocaleString()}</td>
                  <td className="small">{k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never'}</td>
                  <td>
                    {k.revokedAt ? (
                      <span className="muted">revoked</span>
                    ) : (
                      <button type="button" className="danger" onClick={() => revoke(k)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <form className="row space-above" onSubmit={addKey}>
          <select aria-label="Project of the new key" value={keyProject} onChange={(e) => setKeyProject(e.target.value)} required>
            {projects.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
          <input
            aria-label="New key name"
            placeholder="key name (e.g. importer)"
            value={keyName}
            onChange={(e) => setKeyName(e.target.value)}
            required
            maxLength={100}
          />
          <button type="submit" disabled={!keyProject}>
            Create key
          </button>
        </form>
      </section>
    </>
  );
}
