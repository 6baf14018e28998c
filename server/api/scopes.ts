// Who may call what (DESIGN section 11): the one table of the scope each tRPC procedure and REST
// route needs (the scopes themselves are the contract's). Free of Node built-ins and server code: the
// router's types, which the client package ships, reach this module.

import type { Grant, Scope } from "../contract/access.ts";

export type { Grant, Scope };

/** The scope each procedure needs (null: open to anyone). One not listed is refused while access control is on. */
export const PROCEDURE_SCOPES: Readonly<Record<string, Scope | null>> = {
  health: null,
  predict: "predict",
  batchPredict: "predict",
  planBudget: "predict",
  "customers.get": "predict",
  "events.ingest": "events",
  "customers.import": "events",
  recordOutcome: "outcomes",
  "monitoring.metrics": "monitor",
  "monitoring.alerts": "monitor",
};

/** The prefix of `GET /customers/{id}`. */
export const CUSTOMER_PREFIX = "/customers/";

/** The scope each REST path needs (null: open to anyone). One not listed is refused while access control is on. */
export const ROUTE_SCOPES: Readonly<Record<string, Scope | null>> = {
  "/predict": "predict",
  "/batch-predict": "predict",
  "/plan-budget": "predict",
  [CUSTOMER_PREFIX]: "predict",
  "/events": "events",
  "/customers/import": "events",
  "/outcomes": "outcomes",
  "/metrics": "monitor",
  "/console": "monitor",
  "/admin/reload": "admin",
  "/health": null,
  "/health/live": null,
  "/health/ready": null,
  "/openapi.json": null,
};

export function procedureScope(path: string): Scope | null | undefined {
  return Object.hasOwn(PROCEDURE_SCOPES, path) ? PROCEDURE_SCOPES[path] : undefined;
}

export function routeScope(path: string): Scope | null | undefined {
  if (Object.hasOwn(ROUTE_SCOPES, path)) return ROUTE_SCOPES[path];
  return path.startsWith(CUSTOMER_PREFIX) ? ROUTE_SCOPES[CUSTOMER_PREFIX] : undefined;
}

/** The one answer to a missing, malformed or unknown key: it never says which of these it was. */
export const UNAUTHENTICATED = "missing or invalid API key";

export interface Refusal {
  status: 401 | 403;
  code: "UNAUTHORIZED" | "FORBIDDEN";
  message: string;
}

/**
 * Why a caller holding `grant` may not call `what`, which needs `scope` (undefined: not in the
 * tables, so no key may), or null when it may. A 403 names only the scope needed.
 */
export function refusal(grant: Grant, scope: Scope | null | undefined, what: string): Refusal | null {
  if (grant === "all" || scope === null) return null;
  if (grant === null) return { status: 401, code: "UNAUTHORIZED", message: UNAUTHENTICATED };
  if (scope === undefined) return { status: 403, code: "FORBIDDEN", message: `${what} is open to no API key` };
  if (grant.has(scope)) return null;
  return { status: 403, code: "FORBIDDEN", message: `${what} needs an API key with the "${scope}" scope` };
}
