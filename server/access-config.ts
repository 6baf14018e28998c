// API_KEYS / API_KEYS_FILE and CORS_ORIGINS read as configuration (DESIGN section 11), checked at
// start: a bad entry refuses to start, naming it, never quoting a key.
import { createHash } from "node:crypto";
import { SCOPES, type Scope } from "./contract/access.ts";

/** A configured key, kept only as its SHA-256 digest. */
export interface ApiKey {
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

export const digestOf = (key: string) => createHash("sha256").update(key, "utf8").digest();

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
