// The scopes an API key can hold (DESIGN section 11), and what a caller was granted.

export const SCOPES = ["predict", "events", "outcomes", "monitor", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** A caller's scopes: "all" while access control is off, a key's scopes, or null without a valid key. */
export type Grant = ReadonlySet<Scope> | "all" | null;
