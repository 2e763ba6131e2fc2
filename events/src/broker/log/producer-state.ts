/**
 * Idempotent-producer bookkeeping for one partition: per producer id, the sequence ranges and offsets
 * of its last five batches (Kafka's max.in.flight bound for idempotence), so that a retried batch is
 * recognised and answered with its original offset instead of being appended again.
 * Rebuilt from the batch headers when the log is recovered, so it needs no file of its own.
 */
import { KafkaBrokerError } from '../protocol/errors.js';

const KEPT_BATCHES = 5;
const INT32_MAX = 2147483647;

interface Entry {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
}
interface ProducerEntry {
  epoch: number;
  batches: Entry[];
}

export function lastSequence(baseSequence: number, lastOffsetDelta: number): number {
  const last = baseSequence + lastOffsetDelta;
  return last > INT32_MAX ? last - INT32_MAX - 1 : last;
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  /**
   * Returns the original base offset of a duplicate, null for a new in-order batch, or throws
   * OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH.
   */
  check(producerId: number, epoch: number, baseSeq: number, lastOffsetDelta: number): number | null {
    const p = this.producers.get(producerId);
    // Unknown producer (first batch, or its state aged out with retention): accept whatever it sends.
    if (!p) return null;
    if (epoch < p.epoch) throw new KafkaBrokerError('INVALID_PRODUCER_EPOCH');
    if (epoch > p.epoch) {
      if (baseSeq !== 0) throw new KafkaBrokerError('OUT_OF_ORDER_SEQUENCE_NUMBER', 'new epoch must start at 0');
      return null;
    }
    const lastSeq = lastSequence(baseSeq, lastOffsetDelta);
    for (const b of p.batches) if (b.firstSeq === baseSeq && b.lastSeq === lastSeq) return b.baseOffset;
    const last = p.batches[p.batches.length - 1];
    if (last) {
      const expected = last.lastSeq === INT32_MAX ? 0 : last.lastSeq + 1;
      if (baseSeq !== expected) {
        throw new KafkaBrokerError('OUT_OF_ORDER_SEQUENCE_NUMBER', `expected sequence ${expected}, got ${baseSeq}`);
      }
    }
    return null;
  }

  record(producerId: number, epoch: number, baseSeq: number, lastOffsetDelta: number, baseOffset: number): void {
    let p = this.producers.get(producerId);
    if (!p || epoch !== p.epoch) {
      p = { epoch, batches: [] };
      this.producers.set(producerId, p);
    }
    p.batches.push({ firstSeq: baseSeq, lastSeq: lastSequence(baseSeq, lastOffsetDelta), baseOffset });
    if (p.batches.length > KEPT_BATCHES) p.batches.shift();
  }

  get size(): number {
    return this.producers.size;
  }
}
