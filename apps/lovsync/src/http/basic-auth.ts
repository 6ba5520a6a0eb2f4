import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * HTTP Basic authentication against one configured user. Both the user name and the password are
 * compared in constant time over their sha256 digests (equal length whatever was sent), and both
 * comparisons always run, so the answer time says nothing about which part was wrong.
 */
export function basicAuth(user: string, password: string, realm = 'lovsync'): RequestHandler {
  const expectedUser = digest(user);
  const expectedPassword = digest(password);
  return (req, res, next) => {
    const credentials = parseBasicAuthorization(req.headers.authorization);
    if (credentials) {
      const userOk = timingSafeEqual(digest(credentials.user), expectedUser);
      const passwordOk = timingSafeEqual(digest(credentials.password), expectedPassword);
      if (userOk && passwordOk) {
        next();
        return;
      }
    }
    res
      .status(401)
      .set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`)
      .set('Cache-Control', 'no-store')
      .json({ error: 'authentication required', status: 401 });
  };
}

/** `Basic base64(user:password)` -> its parts; undefined for anything else. */
export function parseBasicAuthorization(
  header: string | undefined,
): { user: string; password: string } | undefined {
  const match = header ? /^Basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
