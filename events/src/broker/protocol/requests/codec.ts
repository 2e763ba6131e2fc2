import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';

/**
 * One API's wire format: the versions the broker advertises (only those implemented completely, so
 * every client's negotiation lands on something that works) and the body codecs for them.
 */
export interface ApiCodec<Req, Res> {
  apiKey: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /**
   * Lowest version put in ApiVersions when it differs from `minVersion`. Requests below `minVersion`
   * still close the connection; only the advertisement is wider (see produce.ts for the one user).
   */
  advertisedMinVersion?: number;
  /** First flexible (compact + tagged fields) version, if any advertised version is flexible. */
  flexibleFrom?: number;
  decode(r: Reader, version: number): Req;
  encode(w: Writer, version: number, res: Res): void;
}
