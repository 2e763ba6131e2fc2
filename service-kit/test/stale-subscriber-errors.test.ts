/** The one ioredis error a service tolerates, in a process of its own (it installs a process-wide listener). */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('../src/stale-subscriber-errors.ts', import.meta.url));

function runWith(thrown: string): { status: number | null; stdout: string; stderr: string } {
  const script = `
    import { tolerateStaleSubscriberReplies } from ${JSON.stringify(MODULE)};
    const logger = { warn: (o, m) => console.log('WARN', m) };
    tolerateStaleSubscriberReplies(logger);
    setTimeout(() => { ${thrown} }, 0);
    setTimeout(() => console.log('STILL RUNNING'), 50);
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tolerateStaleSubscriberReplies', () => {
  it('logs the late-reply error of ioredis\'s reply handler and keeps the process running', () => {
    const r = runWith(`const e = new Error('Command queue state error. If you can reproduce this, please report it. Last reply: sunsubscribe,ch,1'); e.stack = e.message + '\\n    at DataHandler.shiftCommand (ioredis/built/DataHandler.js:179:31)'; throw e;`);
    expect(r.stdout).toContain('WARN');
    expect(r.stdout).toContain('STILL RUNNING');
    expect(r.status).toBe(0);
  });

  it('ends the process on any other uncaught exception, as Node would', () => {
    const r = runWith(`throw new Error('something else broke');`);
    expect(r.stdout).not.toContain('STILL RUNNING');
    expect(r.stderr).toContain('something else broke');
    expect(r.status).toBe(1);
  });

  it('does not take the same message from elsewhere for the ioredis one', () => {
    const r = runWith(`throw new Error('Command queue state error, says some other library');`);
    expect(r.stdout).not.toContain('STILL RUNNING');
    expect(r.status).toBe(1);
  });
});
