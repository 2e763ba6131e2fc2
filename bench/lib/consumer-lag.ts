import { AssignerProtocol, Kafka, logLevel, type Admin } from 'kafkajs';

/** Records written but not yet committed by a consumer group, summed over its partitions. */
export interface ConsumerLag {
  readonly total: number;
  readonly byGroup: Readonly<Record<string, number>>;
}

export interface LagProbe {
  /** Lag of every consumer group the broker knows, now. */
  read(): Promise<ConsumerLag>;
  /** Polls until the lag is 0 or `withinMs` passed; when the read that saw 0 started, or undefined when none did. */
  waitForZero(withinMs: number, everyMs?: number): Promise<{ zeroAfterMs: number | undefined; last: ConsumerLag }>;
  close(): Promise<void>;
}

/**
 * Consumer lag as Kafka tooling defines it: for each group (listGroups), each topic its members
 * subscribe to (their join metadata, so a group's topics need not be known here) and each
 * partition, the high-water mark minus the committed offset. Groups `ignore` names (a benchmark's own
 * readers) do not count.
 */
export async function createLagProbe(brokers: string, ignore: (groupId: string) => boolean = () => false): Promise<LagProbe> {
  const kafka = new Kafka({ clientId: 'bench-lag-probe', brokers: brokers.split(','), logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry: { retries: 3 } });
  const admin: Admin = kafka.admin();
  await admin.connect();

  const subscribedTopics = async (groupIds: string[]): Promise<Map<string, string[]>> => {
    const { groups } = await admin.describeGroups(groupIds);
    const out = new Map<string, string[]>();
    for (const g of groups) {
      const topics = new Set<string>();
      for (const m of g.members) {
        // A member that joined with a protocol other than the consumer's has no topics to decode.
        const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
        for (const t of meta?.topics ?? []) topics.add(t);
      }
      out.set(g.groupId, [...topics]);
    }
    return out;
  };

  const read = async (): Promise<ConsumerLag> => {
    const { groups } = await admin.listGroups();
    const topicsOf = await subscribedTopics(groups.map((g) => g.groupId).filter((id) => !ignore(id)));
    const highWater = new Map<string, Map<number, { high: number; low: number }>>();
    const marks = async (topic: string) => {
      let m = highWater.get(topic);
      if (!m) {
        m = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, { high: Number(p.high), low: Number(p.low) }]));
        highWater.set(topic, m);
      }
      return m;
    };
    const byGroup: Record<string, number> = {};
    let total = 0;
    for (const [groupId, topics] of topicsOf) {
      if (!topics.length) continue;
      let lag = 0;
      for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics })) {
        const m = await marks(topic);
        for (const p of partitions) {
          const mark = m.get(p.partition);
          if (!mark) continue;
          const committed = Number(p.offset);
          // Nothing committed yet: the group starts from the beginning of the log, so all of it is behind.
          lag += Math.max(0, mark.high - (committed >= 0 ? committed : mark.low));
        }
      }
      byGroup[groupId] = lag;
      total += lag;
    }
    return { total, byGroup };
  };

  return {
    read,
    async waitForZero(withinMs, everyMs = 100) {
      const started = Date.now();
      for (;;) {
        // The read's start, not its end: a slow answer should not push a zero past the deadline.
        const readAt = Date.now() - started;
        const last = await read();
        if (last.total === 0) return { zeroAfterMs: readAt, last };
        if (Date.now() - started >= withinMs) return { zeroAfterMs: undefined, last };
        await new Promise((r) => setTimeout(r, everyMs));
      }
    },
    close: () => admin.disconnect(),
  };
}
