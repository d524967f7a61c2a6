/** The fenced code blocks of the READMEs and the guides, with where each starts. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const root = path.resolve(import.meta.dirname, '../..');

export interface Snippet {
  file: string;
  line: number;
  lang: string;
  code: string;
}

/** The repository README, the package README (what npm shows) and every guide in docs/. */
export const DOC_FILES = [
  'README.md',
  'packages/pg-conveyor/README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

export function snippets(file: string): Snippet[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const found: Snippet[] = [];
  const fence = /^```(\w+)\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(text); m; m = fence.exec(text)) {
    found.push({ file, line: text.slice(0, m.index).split('\n').length, lang: m[1]!, code: m[2]! });
  }
  return found;
}

export const ALL_SNIPPETS = DOC_FILES.flatMap(snippets);
export const TS_SNIPPETS = ALL_SNIPPETS.filter((s) => s.lang === 'ts');
