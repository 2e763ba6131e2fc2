import type { IHeaders } from 'kafkajs';

/**
 * kafkajs record headers → plain strings. A header may repeat (an array); the first value wins, like
 * Kafka Streams' `lastHeader` would pick one — our producers never repeat a header.
 */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}
