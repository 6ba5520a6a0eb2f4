/** Switchable faults of the Lovdata API emulator, and the bookkeeping of how often they still apply. */

export type Endpoint = 'list' | 'get';

type FaultScope = {
  /** Number of matching requests the fault applies to; default Infinity. */
  count?: number;
  /** Which endpoint it applies to; default both, except where the kind implies one. */
  path?: Endpoint;
  /** Only downloads of this archive (implies `get`). */
  dataset?: string;
};

export type Fault = FaultScope &
  (
    | { kind: 'status'; status: number }
    | { kind: 'rate-limit'; retryAfterSeconds: number }
    /** The body trickles out at this rate (`chunked`: without Content-Length, so its size is unknown). */
    | { kind: 'slow'; bytesPerSecond: number; chunked?: boolean }
    /**
     * Full headers (Content-Length included), then the socket is destroyed after this many body bytes
     * (`holdMs` later: time for a client to have read and stored what came before the cut).
     */
    | { kind: 'truncate'; afterBytes: number; holdMs?: number }
    /** 200 with an HTML error page, as a proxy or maintenance page would send. */
    | { kind: 'html' }
    /** The list endpoint answers with invalid JSON. */
    | { kind: 'malformed-json' }
    /** The archive is served as `text/plain`. */
    | { kind: 'wrong-type' }
    /** The list endpoint answers with this value as JSON. */
    | { kind: 'list-override'; body: unknown }
    /** The request is never answered (until the client gives up or the emulator closes). */
    | { kind: 'hang' }
    /** The first `bytes` of the body go out alone (flushed, then a pause), then the rest. */
    | { kind: 'first-chunk'; bytes: number }
    /** A Range request is answered 206 from `shift` bytes before the requested start, saying so in Content-Range. */
    | { kind: 'wrong-range-start'; shift: number }
    /** 200 with only the first `bytes` of the archive, Content-Length matching that short body. */
    | { kind: 'short-body'; bytes: number }
  );

export type FaultKind = Fault['kind'];

const IMPLIED_ENDPOINT: Partial<Record<FaultKind, Endpoint>> = {
  'malformed-json': 'list',
  'list-override': 'list',
  'wrong-type': 'get',
  'first-chunk': 'get',
  'wrong-range-start': 'get',
  'short-body': 'get',
};

/**
 * Holds the current fault; each matching request consumes one use of it. A list of faults applies
 * one after the other: the next one once the current one's `count` is used up.
 */
export class FaultSwitch {
  private fault: Fault | null = null;
  private queue: Fault[] = [];
  private remaining = 0;

  set(fault: Fault | Fault[] | null): void {
    this.queue = fault === null ? [] : Array.isArray(fault) ? [...fault] : [fault];
    this.next();
  }

  private next(): void {
    this.fault = this.queue.shift() ?? null;
    this.remaining = this.fault?.count ?? Infinity;
  }

  /** The fault for this request, if any, counting it as used. */
  take(endpoint: Endpoint, dataset?: string): Fault | null {
    const fault = this.fault;
    if (!fault) return null;
    const scope = fault.dataset !== undefined ? 'get' : (fault.path ?? IMPLIED_ENDPOINT[fault.kind]);
    if (scope && scope !== endpoint) return null;
    if (fault.dataset !== undefined && fault.dataset !== dataset) return null;
    this.remaining--;
    if (this.remaining <= 0) this.next();
    return fault;
  }
}
