import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createErrorFormatter } from '../src/subgraph-server.js';

const logger = pino({ level: 'silent' });

describe('createErrorFormatter', () => {
  it('in production hides internal errors but keeps public codes and messages', () => {
    const format = createErrorFormatter(true, logger);
    expect(format({ message: 'ECONNREFUSED 10.0.0.3:6379', path: ['order'], extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['x'] } })).toEqual({
      message: 'Internal server error',
      path: ['order'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(format({ message: 'boom' })).toEqual({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(format({ message: 'Line 1: unknown product', extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } })).toEqual({
      message: 'Line 1: unknown product',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });
  it('in development keeps the message', () => {
    const format = createErrorFormatter(false, logger);
    expect(format({ message: 'boom' })).toEqual({ message: 'boom', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  });
});

describe('isInfrastructureError', () => {
  it('recognises a lost Redis connection but not a bug or a bad event', async () => {
    const { isInfrastructureError } = await import('../src/metrics.js');
    expect(isInfrastructureError(new Error('Connection is closed.'))).toBe(true);
    expect(isInfrastructureError(Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' }))).toBe(true);
    expect(isInfrastructureError(new Error('connect ECONNREFUSED 127.0.0.1:6390'))).toBe(true);
    expect(isInfrastructureError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(false);
    expect(isInfrastructureError('nope')).toBe(false);
  });
});
