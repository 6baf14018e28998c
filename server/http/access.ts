// Access control (DESIGN section 11): API keys and their scopes, CORS by an allow-list of origins,
// and the Origin check of WebSocket upgrades. What each route and procedure needs is the table in
// server/api/scopes.ts; the REST router, tRPC's HTTP path and its WebSocket path all ask here for
// a caller's grant and check it against that table.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { digestOf, type ApiKey } from "../access-config.ts";
import type { Grant } from "../contract/access.ts";

/** Headers a cross-origin caller may send: the key, JSON, and request correlation. */
const ALLOWED_HEADERS = "authorization, content-type, x-request-id, traceparent";

export class Access {
  private readonly keys: readonly ApiKey[] | null;
  private readonly origins: ReadonlySet<string>;

  /** `keys` undefined: access control off, every caller holds every scope. */
  constructor(keys: readonly ApiKey[] | undefined, origins: readonly string[] = []) {
    this.keys = keys ?? null;
    this.origins = new Set(origins);
  }

  /**
   * The grant of the key in `authorization`: "Bearer <key>", or "Basic" with the key as the
   * password (what a browser sends for a page after its own prompt: the console). Every configured
   * digest is compared in constant time, with no early exit, so timing tells nothing of which keys exist.
   */
  grant(authorization: unknown): Grant {
    if (!this.keys) return "all";
    if (typeof authorization !== "string") return null;
    const key = bearerKey(authorization) ?? basicPassword(authorization);
    if (key === null) return null;
    const digest = digestOf(key);
    let found: ApiKey | null = null;
    for (const k of this.keys) if (timingSafeEqual(k.digest, digest)) found = k;
    return found ? found.scopes : null;
  }

  /**
   * CORS: an allowed origin's request gets its `access-control-allow-origin`; a preflight is
   * answered here (204 for an allowed origin, 403 otherwise), and then this returns true.
   */
  cors(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    const allowed = origin !== undefined && this.origins.has(origin);
    if (this.origins.size > 0) res.setHeader("vary", "origin");
    if (allowed) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", "x-request-id");
    }
    if (req.method !== "OPTIONS" || origin === undefined || req.headers["access-control-request-method"] === undefined) return false;
    if (!allowed) {
      const body = JSON.stringify({ error: { code: "FORBIDDEN", message: `origin ${JSON.stringify(origin)} is not allowed (CORS_ORIGINS)`, issues: [] } });
      res.writeHead(403, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return true;
    }
    res.writeHead(204, { "access-control-allow-methods": "GET, POST", "access-control-allow-headers": ALLOWED_HEADERS, "access-control-max-age": "600" });
    res.end();
    return true;
  }

  /**
   * Whether a WebSocket upgrade may go on: no Origin (not a browser), the server's own origin
   * (its host is the Host header), or a listed one. Browsers do not apply CORS to WebSockets, so
   * without this any page could open one with its visitor's network position.
   */
  admitsUpgrade(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || this.origins.has(origin)) return true;
    try {
      return new URL(origin).host === (req.headers.host ?? "").toLowerCase();
    } catch {
      return false; // "null" (sandboxed frames, files) and anything unparsable
    }
  }
}

function bearerKey(authorization: string): string | null {
  return /^bearer +([\x21-\x7e]+) *$/i.exec(authorization)?.[1] ?? null;
}

/** The password of "Basic base64(user:password)"; the user name is not looked at. */
function basicPassword(authorization: string): string | null {
  const m = /^basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization);
  if (!m) return null;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const password = colon < 0 ? "" : decoded.slice(colon + 1);
  return /^[\x21-\x7e]+$/.test(password) ? password : null;
}
