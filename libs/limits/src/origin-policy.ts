import type { IncomingMessage } from 'node:http';
import { LimitsError, LimitsErrorCode } from './limits.errors.js';

/** Decides whether a WebSocket handshake's `Origin` may open a socket. */
export type OriginPolicy = (req: Pick<IncomingMessage, 'headers'>) => boolean;

/**
 * Compiles `SIGNALING_ALLOWED_ORIGINS` into a check of the handshake's `Origin` (the defence
 * against cross-site WebSocket hijacking: a browser sends the page's origin and any page can
 * open a socket to any host).
 *
 * - No `Origin` header: allowed. Browsers always send one on WebSocket handshakes, so its absence
 *   means a native client, which no foreign page can drive.
 * - `*` in the list: any origin, even `null`.
 * - `null` (sandboxed frames, `file:` pages, some redirects): refused.
 * - Otherwise allowed if its scheme, host and port equal a listed origin's (host case-insensitive,
 *   `:443`/`:80` the same as no port), or if it is the gateway's own: its `host:port` equals the
 *   request's `Host` (the demo page served by the gateway). Behind a proxy this needs the `Host`
 *   the browser sent (nginx: `proxy_set_header Host $http_host`, not `$host`, which drops the
 *   port), or the origin listed.
 *
 * Throws {@link LimitsError} (`invalid_option`) at creation for a listed origin that is not
 * `http(s)://host[:port]`.
 */
export function createOriginPolicy(allowed: readonly string[]): OriginPolicy {
  if (allowed.includes('*')) return () => true;
  const listed = new Set(
    allowed.map((entry) => {
      const origin = parseOrigin(entry);
      if (origin === null) {
        throw new LimitsError(
          LimitsErrorCode.InvalidOption,
          `allowed origin ${JSON.stringify(entry)} is not http(s)://host[:port]`,
        );
      }
      return origin.origin;
    }),
  );
  return (req) => {
    const header = req.headers.origin;
    if (header === undefined) return true;
    const origin = parseOrigin(header);
    if (origin === null) return false;
    if (listed.has(origin.origin)) return true;
    return sameHost(origin, req.headers.host);
  };
}

/** A browser's `Origin`: `scheme://host[:port]`, nothing else (a path, user or query is not). */
function parseOrigin(text: string): URL | null {
  if (text.length > 300 || !/^https?:\/\//i.test(text)) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  const bare =
    url.username === '' &&
    url.password === '' &&
    url.pathname === '/' &&
    url.search === '' &&
    url.hash === '' &&
    !text.endsWith('/');
  return bare && url.hostname !== '' ? url : null;
}

/** Whether `Host` names the origin's host and port (its default port when `Host` has none). */
function sameHost(origin: URL, host: string | undefined): boolean {
  if (host === undefined || host === '' || /[/?#@\\\s]/.test(host)) return false;
  let url: URL;
  try {
    url = new URL(`${origin.protocol}//${host}`);
  } catch {
    return false;
  }
  return url.host === origin.host;
}
