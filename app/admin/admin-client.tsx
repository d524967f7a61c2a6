'use client';
/** What the admin pages' client components share: reading the admin API, refreshing, the list filters. */
import { useEffect } from 'react';

/** GET an admin API answer; a lapsed session goes to sign-in and comes back to `page`. */
export async function getJson<T>(url: string, page: string): Promise<T> {
  const response = await fetch(url, { cache: 'no-store' });
  if (response.status === 401) {
    window.location.assign(`/login?next=${page}`);
    throw new Error('Signed out');
  }
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error ?? `HTTP ${response.status}`);
  return response.json() as Promise<T>;
}

/** Runs `load` now and every `ms` while mounted (and again whenever `load` changes). */
export function usePolling(load: () => unknown, ms: number): void {
  useEffect(() => {
    void load();
    const timer = setInterval(load, ms);
    return () => clearInterval(timer);
  }, [load, ms]);
}

/** A list's filters: a status select and a text field, then a note on what is shown. */
export function FilterBar<S extends string>(p: {
  idPrefix: string;
  statuses: readonly S[];
  status: S | '';
  onStatus: (status: S | '') => void;
  textLabel: string;
  placeholder: string;
  text: string;
  onText: (text: string) => void;
  note: string;
}) {
  return (
    <div className="toolbar">
      <div>
        <label htmlFor={`${p.idPrefix}-status`}>Status</label>
        <select id={`${p.idPrefix}-status`} value={p.status} onChange={(e) => p.onStatus(e.target.value as S | '')}>
          <option value="">All</option>
          {p.statuses.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor={`${p.idPrefix}-text`}>{p.textLabel}</label>
        <input id={`${p.idPrefix}-text`} placeholder={p.placeholder} value={p.text} onChange={(e) => p.onText(e.target.value)} />
      </div>
      <span className="muted">{p.note}</span>
    </div>
  );
}
