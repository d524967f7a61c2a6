'use client';

import { useEffect, useState } from 'react';

const SAMPLE_CSV = `content,topic
The red fox jumps over the lazy dog,animals
Foxes are small omnivorous mammals,animals
File your quarterly taxes before the deadline,finance
Tax returns can be filed online,finance
Cardboard boxes are recyclable,household
Oxen were used to plough fields,animals
`;

interface Status {
  id: string;
  projectId: string;
  status: string;
  totalRecords: number;
  savedRecords: number;
  progress: { current: number; total: number; message: string } | null;
  queueJob: { status: string; attempts: number; lastError: string | null } | null;
  embeddings: { embedded: number; total: number };
}

interface Hit {
  recordId: string;
  content: string;
  similarity: number;
  metadata: Record<string, unknown>;
}

export default function Home() {
  // Kept for this tab only (sessionStorage): a key is a password for its project.
  const [apiKey, setApiKey] = useState('');
  useEffect(() => setApiKey(sessionStorage.getItem('conveyor-api-key') ?? ''), []);
  const authorized = { authorization: `Bearer ${apiKey.trim()}` };
  const [body, setBody] = useState(SAMPLE_CSV);
  const [embed, setEmbed] = useState(true);
  const [jobId, setJobId] = useState<string | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState('fox');
  const [hits, setHits] = useState<Hit[] | null>(null);

  useEffect(() => {
    if (!jobId) return;
    let stop = false;
    const poll = async () => {
      const response = await fetch(`/api/jobs/${jobId}`, { cache: 'no-store', headers: { authorization: `Bearer ${apiKey.trim()}` } });
      if (response.ok && !stop) setStatus(await response.json());
    };
    void poll();
    const timer = setInterval(poll, 1000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [jobId, apiKey]);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setError(null);
    setStatus(null);
    const isJson = body.trim().startsWith('{') || body.trim().startsWith('[');
    const payload = isJson ? JSON.stringify({ generateEmbeddings: embed, records: JSON.parse(body) }) : body;
    const url = isJson ? '/api/ingest' : `/api/ingest?generateEmbeddings=${embed}`;
    sessionStorage.setItem('conveyor-api-key', apiKey.trim());
    const response = await fetch(url, { method: 'POST', headers: { ...authorized, 'content-type': isJson ? 'application/json' : 'text/csv' }, body: payload });
    const json = await response.json();
    if (!response.ok) {
      setError(`${json.error}${json.issues ? `: ${json.issues.map((i: { path: string; message: string }) => `${i.path} ${i.message}`).join('; ')}` : ''}`);
      return;
    }
    setJobId(json.jobId);
  }

  async function search(event: React.FormEvent) {
    event.preventDefault();
    if (!status) return;
    const response = await fetch(`/api/search?q=${encodeURIComponent(query)}&limit=5`, { headers: authorized });
    const json = await response.json();
    if (!response.ok) setError(json.error);
    else setHits(json.results);
  }

  async function loadFile(file: File | undefined) {
    if (file) setBody(await file.text());
  }

  const stored = status ? Math.round((100 * (status.progress?.current ?? status.savedRecords)) / Math.max(1, status.totalRecords)) : 0;
  const embedded = status ? Math.round((100 * status.embeddings.embedded) / Math.max(1, status.embeddings.total)) : 0;

  return (
    <>
      <section className="panel">
        <h2>1. Submit records</h2>
        <form onSubmit={submit}>
          <div className="row">
            <div>
              <label htmlFor="api-key">API key (its project receives the records)</label>
              <input id="api-key" type="password" autoComplete="off" placeholder="cvk_…" value={apiKey} onChange={(e) => setApiKey(e.target.value)} />
            </div>
            <div>
              <label htmlFor="file">CSV or JSON file</label>
              <input id="file" type="file" accept=".csv,.json,text/csv,application/json" onChange={(e) => loadFile(e.target.files?.[0])} />
            </div>
            <label className="row space-above-lg">
              <input type="checkbox" checked={embed} onChange={(e) => setEmbed(e.target.checked)} /> generate embeddings
            </label>
          </div>
          <label htmlFor="body" className="space-above">
            CSV with a <code>content</code> column, or a JSON array of <code>{'{ "content": "..." }'}</code>
          </label>
          <textarea id="body" value={body} onChange={(e) => setBody(e.target.value)} />
          <div className="row space-above-sm">
            <button type="submit">Ingest</button>
            {error && <span className="error">{error}</span>}
          </div>
        </form>
      </section>

      {jobId && (
        <section className="panel" data-testid="ingest-status">
          <h2>2. Watch it run</h2>
          <p className="muted">
            Ingestion <code>{jobId}</code>: the worker loop picks it up within seconds.
          </p>
          {status && (
            <table>
              <tbody>
                <tr>
                  <th>Storing</th>
                  <td>{status.status}</td>
                  <td className="wide-cell">
                    <progress className="progress" value={stored} max={100} />
                  </td>
                  <td>
                    {status.savedRecords} / {status.totalRecords}
                  </td>
                </tr>
                <tr>
                  <th>Embeddings</th>
                  <td>{status.embeddings.embedded === status.embeddings.total && status.embeddings.total > 0 ? 'COMPLETED' : 'waiting'}</td>
                  <td>
                    <progress className="progress" value={embedded} max={100} />
                  </td>
                  <td>
                    {status.embeddings.embedded} / {status.embeddings.total}
                  </td>
                </tr>
                {status.queueJob?.lastError && (
                  <tr>
                    <th>Last error</th>
                    <td colSpan={3} className="error">
                      {status.queueJob.lastError}
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          )}
        </section>
      )}

      {status && status.embeddings.embedded > 0 && (
        <section className="panel">
          <h2>3. Search</h2>
          <form onSubmit={search} className="row">
            <input aria-label="query" value={query} onChange={(e) => setQuery(e.target.value)} className="grow" />
            <button type="submit">Search</button>
          </form>
          {hits && (
            <ol className="hits">
              {hits.map((hit) => (
                <li key={hit.recordId}>
                  {hit.content} <span className="muted">({hit.similarity.toFixed(3)})</span>
                </li>
              ))}
            </ol>
          )}
        </section>
      )}
    </>
  );
}
