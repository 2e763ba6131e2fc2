import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { WebSocket } from 'ws';
import { ResolvedEvent } from '../subscriptions/fan-out.js';
import { writeNextMessage } from './websocket-server.js';

/** ws's frame parser; exported by ws but not declared in @types/ws. */
interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  write(chunk: Buffer, callback: () => void): void;
}
const { Receiver } = ws as unknown as { Receiver: new (options: { isServer: boolean }) => FrameReceiver };

/** What a ws client makes of the bytes the fan-out writes: the frames must be valid WebSocket text frames. */
function decode(bytes: Buffer): Promise<{ text: string; binary: boolean }[]> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false });
    const messages: { text: string; binary: boolean }[] = [];
    receiver.on('message', (data: Buffer, isBinary: boolean) => messages.push({ text: data.toString(), binary: isBinary }));
    receiver.on('error', reject);
    receiver.write(bytes, () => resolve(messages));
  });
}

/**
 * A ws WebSocket over a fake TCP socket that behaves like Node's for cork/uncork: `written` is every byte in
 * order, `writes` the system calls they would take (writes held while corked leave together on uncork).
 */
function fakeSocket(buffered = 0) {
  const written: Buffer[] = [];
  const writes: Buffer[][] = [];
  let held: Buffer[] = [];
  let corked = 0;
  let terminated = false;
  const raw = {
    writableLength: buffered,
    get writableCorked() {
      return corked;
    },
    cork: () => void corked++,
    uncork: () => {
      if (corked > 0 && --corked === 0 && held.length) {
        writes.push(held);
        held = [];
      }
    },
    write: (b: Buffer) => {
      written.push(Buffer.from(b));
      if (corked) held.push(b);
      else writes.push([b]);
    },
  };
  const socket = {
    readyState: WebSocket.OPEN,
    _socket: raw,
    terminate: () => {
      terminated = true;
    },
  };
  return { socket: socket as unknown as WebSocket, written, writes, terminated: () => terminated };
}

describe('writeNextMessage', () => {
  it('writes graphql-ws next messages as single text frames, for every length encoding', async () => {
    for (const size of [10, 300, 70_000]) {
      const { socket, written } = fakeSocket();
      const event = new ResolvedEvent({ data: { s: 'x'.repeat(size) } });
      expect(writeNextMessage(socket, 'a-1', event)).toBe('written');
      expect(writeNextMessage(socket, 'a-1', event)).toBe('written');
      expect(written).toHaveLength(2);
      const messages = await decode(Buffer.concat(written));
      expect(messages).toHaveLength(2);
      for (const m of messages) {
        expect(m.binary).toBe(false);
        expect(JSON.parse(m.text)).toEqual({ id: 'a-1', type: 'next', payload: { data: { s: 'x'.repeat(size) } } });
      }
    }
  });

  it('holds a socket\'s messages of one tick back until the tick ends, then writes them together', async () => {
    const { socket, written, writes } = fakeSocket();
    for (const status of ['INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED']) writeNextMessage(socket, 'o-1', new ResolvedEvent({ data: { status } }));
    expect(writes).toHaveLength(0);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writes.map((w) => w.length)).toEqual([3]);
    const messages = await decode(Buffer.concat(written));
    expect(messages.map((m) => JSON.parse(m.text).payload.data.status)).toEqual(['INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED']);
    // A message of a later tick is a write of its own.
    writeNextMessage(socket, 'o-1', new ResolvedEvent({ data: { status: 'late' } }));
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writes.map((w) => w.length)).toEqual([3, 1]);
    // One of an event shared with many sockets is written at once.
    writeNextMessage(socket, 'o-1', new ResolvedEvent({ data: { status: 'shared' } }), false);
    expect(writes.map((w) => w.length)).toEqual([3, 1, 1]);
  });

  it('drops a socket with too much unsent data instead of buffering more', () => {
    const { socket, written, terminated } = fakeSocket(5 * 1024 * 1024);
    expect(writeNextMessage(socket, '1', new ResolvedEvent({ data: {} }))).toBe('slow-consumer');
    expect(written).toHaveLength(0);
    expect(terminated()).toBe(true);
  });

  it('writes nothing to a socket that is no longer open', () => {
    const { socket, written } = fakeSocket();
    (socket as { readyState: number }).readyState = WebSocket.CLOSING;
    expect(writeNextMessage(socket, '1', new ResolvedEvent({ data: {} }))).toBe('not-open');
    expect(written).toHaveLength(0);
  });
});
