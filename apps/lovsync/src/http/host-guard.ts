import type { RequestHandler } from 'express';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The host part of a Host header or URL host (`[::1]:3000` -> `[::1]`, `LocalHost:80` -> `localhost`). */
function hostname(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

function isLoopback(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const h = hostname(hostHeader);
  return LOOPBACK_HOSTS.has(h) || h.endsWith('.localhost');
}

/**
 * Defence against DNS rebinding and cross-site requests.
 *
 * - Without credentials (the server binds 127.0.0.1 only) a request must name a loopback host
 *   (`localhost`, `127.0.0.1`, `[::1]`): a page on `rebind.attacker.example` whose name now
 *   resolves to 127.0.0.1 sends `Host: rebind.attacker.example` and is refused with 421.
 * - Always: a state-changing request (POST/PUT/PATCH/DELETE) that a browser marks as coming from
 *   another origin (`Origin` not matching `Host`, or `Sec-Fetch-Site: cross-site`) is refused with
 *   403, so neither a rebinding page nor a page abusing cached Basic credentials can start a sync.
 *   Clients that are not browsers (curl, the CLI) send no Origin and are unaffected.
 */
export function hostGuard(opts: { authenticated: boolean }): RequestHandler {
  return (req, res, next) => {
    const host = req.headers.host;
    if (!opts.authenticated && !isLoopback(host)) {
      res
        .status(421)
        .type('text/plain')
        .send(
          'misdirected request: without DASHBOARD_USER/DASHBOARD_PASSWORD only localhost, 127.0.0.1 and [::1] are served\n',
        );
      return;
    }
    if (UNSAFE_METHODS.has(req.method)) {
      const origin = req.headers.origin;
      let crossOrigin = req.headers['sec-fetch-site'] === 'cross-site';
      if (origin !== undefined) {
        try {
          crossOrigin ||= new URL(origin).host.toLowerCase() !== (host ?? '').toLowerCase();
        } catch {
          crossOrigin = true; // `Origin: null` (sandboxed frames, file://) or garbage
        }
      }
      if (crossOrigin) {
        res.status(403).type('text/plain').send('cross-origin request refused\n');
        return;
      }
    }
    next();
  };
}
