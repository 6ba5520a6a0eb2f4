import { createHmac, timingSafeEqual } from 'node:crypto';

/** The request header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'lovsync-signature';
/** The request header carrying the delivery id (a UUID; the same on every retry of a delivery). */
export const DELIVERY_HEADER = 'lovsync-delivery';

/**
 * HMAC-SHA256 with the subscription's secret over `<timestamp>.<body>` (the raw bytes of the body),
 * hex: Stripe's signed-payload scheme. Signing the timestamp with the body lets a receiver refuse
 * replays of an old request (compare t with its clock); the body is signed byte for byte, so verify
 * before parsing the JSON.
 */
export function signatureHeader(secret: string, body: string | Buffer, timestamp: number): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/** Receiver side: true when `header` is a valid signature of `body` made within `toleranceSeconds`. */
export function verifySignature(
  header: string | undefined,
  body: string | Buffer,
  secret: string,
  opts: { toleranceSeconds?: number; now?: number } = {},
): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(
    header.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
    }),
  );
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1) return false;
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signatureHeader(secret, body, t).split('v1=')[1]!, 'hex');
  const got = Buffer.from(parts.v1, 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}
