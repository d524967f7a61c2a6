import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildAppLogger } from '@/lib/observability/logger';

function memory(): { out: Writable; text: () => string } {
  let text = '';
  return {
    out: new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    }),
    text: () => text,
  };
}

describe('the app logger', () => {
  it('writes one JSON line per event in production', () => {
    const { out, text } = memory();
    buildAppLogger({ NODE_ENV: 'production' }, out).warn({ jobId: 'j1', jobType: 'INGEST_DATA', attempt: 2 }, 'job attempt failed; will retry');
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', name: 'conveyor-app', msg: 'job attempt failed; will retry', jobId: 'j1', attempt: 2 });
  });

  it('writes readable lines in development, and honours LOG_LEVEL', () => {
    const { out, text } = memory();
    const logger = buildAppLogger({ NODE_ENV: 'development', LOG_LEVEL: 'warn' }, out);
    logger.info({}, 'not at this level');
    logger.warn({ jobId: 'j2' }, 'lease expired');
    expect(text()).toMatch(/WARN \(conveyor-app\): lease expired\n\s+jobId: "j2"/);
    expect(text()).not.toContain('not at this level');
    expect(() => JSON.parse(text())).toThrow();
  });

  it('is silent under test unless a level is set', () => {
    const { out, text } = memory();
    buildAppLogger({ NODE_ENV: 'test' }, out).error({}, 'quiet');
    expect(text()).toBe('');
  });
});
