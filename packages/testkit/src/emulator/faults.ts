/** Switchable faults of the Lovdata API emulator, and the bookkeeping of how often they still apply. */

export type Endpoint = 'list' | 'get';

type FaultScope = {
  /** Number of matching requests the fault applies to; default Infinity. */
  count?: number;
  /** Which endpoint it applies to; default both, except where the kind implies one. */
  path?: Endpoint;
};

export type Fault = FaultScope &
  (
    | { kind: 'status'; status: number }
    | { kind: 'rate-limit'; retryAfterSeconds: number }
    /** The body trickles out at this rate. */
    | { kind: 'slow'; bytesPerSecond: number }
    /** Full headers (Content-Length included), then the socket is destroyed after this many body bytes. */
    | { kind: 'truncate'; afterBytes: number }
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
  );

export type FaultKind = Fault['kind'];

const IMPLIED_ENDPOINT: Partial<Record<FaultKind, Endpoint>> = {
  'malformed-json': 'list',
  'list-override': 'list',
  'wrong-type': 'get',
};

/** Holds the current fault; each matching request consumes one use of it. */
export class FaultSwitch {
  private fault: Fault | null = null;
  private remaining = 0;

  set(fault: Fault | null): void {
    this.fault = fault;
    this.remaining = fault?.count ?? Infinity;
  }

  /** The fault for this request, if any, counting it as used. */
  take(endpoint: Endpoint): Fault | null {
    const fault = this.fault;
    if (!fault) return null;
    const scope = fault.path ?? IMPLIED_ENDPOINT[fault.kind];
    if (scope && scope !== endpoint) return null;
    this.remaining--;
    if (this.remaining <= 0) this.fault = null;
    return fault;
  }
}
