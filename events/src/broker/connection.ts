/**
 * One client TCP connection: framing (int32 size prefix), request headers, dispatch, and responses
 * in request order. Requests are decoded and dispatched as they arrive (so pipelined produces append
 * in order), but each response waits in a queue until every earlier one has been sent — a parked
 * Fetch therefore holds back later responses on its connection, which is the ordering guarantee
 * Kafka gives and clients rely on (they match responses to requests by position as well as id).
 *
 * Anything the broker cannot make sense of (oversized or negative frame, unknown API key, unsupported
 * version other than ApiVersions, undecodable body) is logged and closes this connection only.
 */
import type { Socket } from 'node:net';
import type { BrokerContext, ConnectionInfo } from './context.js';
import { handlers } from './handlers/index.js';
import { supportedVersions } from './handlers/cluster.js';
import { ApiKey } from './protocol/api-keys.js';
import { ErrorCode } from './protocol/errors.js';
import { Reader } from './protocol/reader.js';
import type { ApiCodec } from './protocol/requests/codec.js';
import { apiVersions, codecs } from './protocol/requests/index.js';
import { Writer } from './protocol/writer.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const byKey = new Map<number, ApiCodec<any, any>>(codecs.map((c) => [c.apiKey, c]));

interface Slot {
  ready: boolean;
  out: Buffer | null;
}

/** Stop reading from a client that pipelines this many unanswered requests (backpressure). */
const MAX_QUEUED = 256;

export class Connection implements ConnectionInfo {
  clientId = '';
  readonly clientHost: string;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly queue: Slot[] = [];
  private closeListeners = new Set<() => void>();
  private closed = false;
  private paused = false;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: BrokerContext,
    private readonly maxFrameBytes: number,
  ) {
    this.clientHost = `/${socket.remoteAddress ?? 'unknown'}`;
    socket.setNoDelay(true);
    socket.on('data', (d) => this.onData(d));
    socket.on('error', (err) => this.ctx.logger.debug({ err, client: this.clientHost }, 'socket error'));
    socket.on('close', () => this.onClosed());
  }

  onClose(cb: () => void): () => void {
    if (this.closed) {
      cb();
      return () => {};
    }
    this.closeListeners.add(cb);
    return () => this.closeListeners.delete(cb);
  }

  isClosed(): boolean {
    return this.closed;
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const ls = [...this.closeListeners];
    this.closeListeners.clear();
    for (const l of ls) l();
  }

  /** Closes this connection after a protocol violation, leaving every other client alone. */
  private abort(reason: string, extra: Record<string, unknown> = {}): void {
    this.ctx.logger.warn({ client: this.clientHost, clientId: this.clientId, reason, ...extra }, 'closing connection');
    this.chunks = [];
    this.buffered = 0;
    this.socket.destroy();
    this.onClosed();
  }

  end(): void {
    this.socket.end();
    this.socket.destroySoon?.();
  }

  private onData(data: Buffer): void {
    if (this.closed) return;
    this.chunks.push(data);
    this.buffered += data.length;
    try {
      this.drainFrames();
    } catch (err) {
      this.abort('unexpected error handling request', { err });
    }
  }

  private drainFrames(): void {
    while (!this.closed && this.buffered >= 4) {
      let head = this.chunks[0]!;
      if (head.length < 4) head = this.chunks[0] = Buffer.concat(this.chunks.splice(0), this.buffered);
      const size = head.readInt32BE(0);
      if (size < 8 || size > this.maxFrameBytes) {
        this.abort('invalid frame size', { size, maxFrameBytes: this.maxFrameBytes });
        return;
      }
      if (this.buffered < 4 + size) return;
      // Concatenate only once the whole frame is here, so a big frame in many chunks costs one copy.
      if (head.length < 4 + size) head = this.chunks[0] = Buffer.concat(this.chunks.splice(0), this.buffered);
      const frame = head.subarray(4, 4 + size);
      if (head.length > 4 + size) this.chunks[0] = head.subarray(4 + size);
      else this.chunks.shift();
      this.buffered -= 4 + size;
      this.handleFrame(frame);
    }
  }

  private handleFrame(frame: Buffer): void {
    const r = new Reader(frame);
    const apiKey = r.int16();
    const version = r.int16();
    const correlationId = r.int32();
    const codec = byKey.get(apiKey);
    if (!codec) {
      this.abort('unknown api key', { apiKey, version });
      return;
    }
    if (version < codec.minVersion || version > codec.maxVersion) {
      if (apiKey === ApiKey.ApiVersions) {
        // The guide's fallback: a v0-format answer any client can parse, listing what is supported.
        const w = this.startResponse(correlationId, false);
        apiVersions.encode(w, 0, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: supportedVersions() });
        this.enqueue(this.finish(w));
        return;
      }
      this.abort('unsupported api version', { api: codec.name, version });
      return;
    }
    let req: unknown;
    const flexible = codec.flexibleFrom !== undefined && version >= codec.flexibleFrom;
    try {
      this.clientId = r.nullableString() ?? '';
      if (flexible) r.taggedFields();
      req = codec.decode(r, version);
    } catch (err) {
      this.abort('malformed request', { api: codec.name, version, err: String(err) });
      return;
    }
    // ApiVersions answers with a v0 header even when the request is flexible (KIP-511).
    const flexibleHeader = flexible && apiKey !== ApiKey.ApiVersions;
    const slot: Slot = { ready: false, out: null };
    this.queue.push(slot);
    if (this.queue.length >= MAX_QUEUED && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    const fail = (err: unknown): void => {
      this.ctx.logger.error({ err, api: codec.name, version, client: this.clientHost }, 'request handler failed');
      this.abort('handler failure');
    };
    const respond = (res: unknown): void => {
      try {
        if (res !== null) {
          const w = this.startResponse(correlationId, flexibleHeader);
          codec.encode(w, version, res);
          slot.out = this.finish(w);
        }
        slot.ready = true;
        this.flush();
      } catch (err) {
        fail(err);
      }
    };
    try {
      const res = handlers[apiKey]!(this.ctx, req, version, this);
      if (res instanceof Promise) res.then(respond, fail);
      else respond(res);
    } catch (err) {
      fail(err);
    }
  }

  private startResponse(correlationId: number, flexibleHeader: boolean): Writer {
    const w = new Writer(256);
    w.int32(0).int32(correlationId);
    if (flexibleHeader) w.emptyTaggedFields();
    return w;
  }

  private finish(w: Writer): Buffer {
    w.patchInt32(0, w.offset - 4);
    return w.toBuffer();
  }

  private enqueue(out: Buffer): void {
    this.queue.push({ ready: true, out });
    this.flush();
  }

  private flush(): void {
    if (this.closed) return;
    let corked = false;
    while (this.queue.length && this.queue[0]!.ready) {
      const slot = this.queue.shift()!;
      if (!slot.out) continue;
      if (!corked) {
        this.socket.cork();
        corked = true;
      }
      this.socket.write(slot.out);
    }
    if (corked) this.socket.uncork();
    if (this.paused && this.queue.length < MAX_QUEUED / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }
}
