/**
 * Every TypeScript snippet in the READMEs and the guides type-checks, as written, against the
 * built package in a strict project (the way a user's editor would see it). Each is its own
 * module; what it assumes from the reader's app (a mailer, a Prisma client, a job defined in an
 * earlier snippet) is declared in snippet-env/. A snippet that fills `JobTypes` by declaration
 * merging is checked in a program of its own, since its declarations would reach every other one.
 * The snippets that can run also run (readme-snippets.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root, TS_SNIPPETS, type Snippet } from './snippets';

const dir = path.join(root, 'node_modules', '.cache', 'doc-snippet-types');
const envDir = path.join(import.meta.dirname, 'snippet-env');
const fileOf = (s: Snippet) => `${s.file.replaceAll(/[/.]/g, '_')}_${s.line}.mts`;

function typecheck(name: string, files: string[]) {
  const config = {
    compilerOptions: {
      strict: true,
      noEmit: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      lib: ['es2023', 'dom'],
      types: ['node'],
      skipLibCheck: true,
      jsx: 'preserve',
      paths: { '@/lib/jobs': ['./lib-jobs.mts'] },
    },
    files: ['globals.d.ts', 'lib-jobs.mts', ...files],
  };
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(config));
  return spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', `${name}.json`], { cwd: dir, encoding: 'utf8' });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('doc snippets', () => {
  it('every TypeScript snippet in the READMEs and guides type-checks in a strict project', () => {
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(envDir, 'globals.d.ts'), path.join(dir, 'globals.d.ts'));
    copyFileSync(path.join(envDir, 'lib-jobs.mts'), path.join(dir, 'lib-jobs.mts'));
    for (const snippet of TS_SNIPPETS) writeFileSync(path.join(dir, fileOf(snippet)), `${snippet.code}\nexport {};\n`);
    const merging = TS_SNIPPETS.filter((s) => s.code.includes("declare module 'pg-conveyor'"));
    const plain = TS_SNIPPETS.filter((s) => !merging.includes(s));
    expect(plain.length, 'snippets found').toBeGreaterThan(10);
    const runs = [typecheck('plain', plain.map(fileOf)), ...merging.map((s, i) => typecheck(`merging-${i}`, [fileOf(s)]))];
    // tsc names the generated file; say which document and line it came from.
    const where = (text: string) => TS_SNIPPETS.reduce((out, s) => out.replaceAll(fileOf(s), `${s.file}:${s.line} (snippet)`), text);
    for (const run of runs) expect(run.status, where(`${run.stdout}${run.stderr}`)).toBe(0);
  }, 120_000);
});
