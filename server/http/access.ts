// Access control (DESIGN section 11): API keys and their scopes, CORS by an allow-list of origins,
// and the Origin check of WebSocket upgrades. What each route and procedure needs is the table in
// server/api/scopes.ts; the REST router, tRPC's HTTP path and its WebSocket path all ask here for
// a caller's grant and check it against that table.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { SCOPES, type Grant, type Scope } from "../api/scopes.ts";

/** A configured key, kept only as its SHA-256 digest. */
export interface ApiKey {
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

const digestOf = (key: string) => createHash("sha256").update(key, "utf8").digest();

/** Visible ASCII without spaces: what a `Bearer` header carries unchanged. */
const KEY_CHARS = /^[\x21-\x7e]+$/;

/**
 * The keys of `text` (API_KEYS' JSON: `[{ "key": "...", "scopes": ["predict", ...] }]`), checked.
 * Throws an Error naming `from` and the problem; a message never quotes a key (a JSON syntax
 * error says only where it is, since the parser's own message can quote the text).
 */
export function parseApiKeys(text: string, from: string): ApiKey[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (err) {
    const at = /position \d+/.exec((err as Error).message);
    throw new Error(`${from}: not valid JSON${at ? ` (at ${at[0]})` : ""}; expected [{"key": "...", "scopes": ["predict", ...]}]`);
  }
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${from}: expected a non-empty JSON array of {"key": "...", "scopes": [...]}`);
  const keys: ApiKey[] = [];
  list.forEach((entry: unknown, i) => {
    const at = `${from}[${i}]`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new Error(`${at}: expected an object {"key": "...", "scopes": [...]}`);
    const extra = Object.keys(entry).filter((k) => k !== "key" && k !== "scopes");
    if (extra.length) throw new Error(`${at}: unknown field(s) ${extra.join(", ")}; expected key and scopes`);
    const { key, scopes } = entry as { key?: unknown; scopes?: unknown };
    if (typeof key !== "string" || key === "") throw new Error(`${at}.key: expected a non-empty string`);
    if (!KEY_CHARS.test(key)) throw new Error(`${at}.key: expected visible ASCII characters without spaces (as sent in "Authorization: Bearer <key>")`);
    if (!Array.isArray(scopes) || scopes.length === 0) throw new Error(`${at}.scopes: expected a non-empty array of ${SCOPES.join(", ")}`);
    const unknown = scopes.filter((s) => !(SCOPES as readonly unknown[]).includes(s));
    if (unknown.length) throw new Error(`${at}.scopes: unknown scope(s) ${unknown.map((s) => JSON.stringify(s)).join(", ")}; expected ${SCOPES.join(", ")}`);
    const digest = digestOf(key);
    const same = keys.findIndex((k) => k.digest.equals(digest));
    if (same >= 0) throw new Error(`${at}.key: the same key as ${from}[${same}]`);
    keys.push({ digest, scopes: new Set(scopes as Scope[]) });
  });
  return keys;
}

/** CORS_ORIGINS: comma-separated origins (`https://app.example.com`, a port if not the default), checked. */
export function parseOrigins(raw: string, from: string): string[] {
  const origins = raw.split(",").map((o) => o.trim()).filter((o) => o !== "");
  for (const o of origins) {
    let origin: string | null = null;
    try {
      const u = new URL(o);
      if (u.protocol === "http:" || u.protocol === "https:") origin = u.origin;
    } catch {
      // said below
    }
    if (origin !== o) throw new Error(`${from}: ${JSON.stringify(o)} is not an origin; expected scheme://host[:port] with no path or trailing slash${origin ? ` (${origin})` : ""}`);
  }
  return origins;
}

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
   * The grant of the key in `authorization` ("Bearer <key>"). Every configured digest is compared
   * in constant time, with no early exit, so timing tells nothing of which keys exist.
   */
  grant(authorization: unknown): Grant {
    if (!this.keys) return "all";
    if (typeof authorization !== "string") return null;
    const m = /^bearer +([\x21-\x7e]+) *$/i.exec(authorization);
    if (!m) return null;
    const digest = digestOf(m[1]);
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
