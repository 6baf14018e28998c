// Configuration from the environment, overridden by the matching command-line flags; every
// value is checked, and a bad one is refused naming the variable or flag and what was expected.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { EVENT_TYPES } from "./contract/events.ts";
import { defaultReplica } from "./contract/ids.ts";
import { parseApiKeys, parseOrigins, type ApiKey } from "./access-config.ts";

/** The default bundle shipped with the package, beside package.json: from source (server/) or built (dist/server/). */
export function bundledModels(): string {
  for (const up of ["../models", "../../models"]) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(`${dir}/manifest.json`)) return dir;
  }
  return "models";
}

export interface Config {
  port: number;
  host: string;
  modelsDir: string;
  maxBodyBytes: number;
  maxBatchCustomers: number;
  /** Open connections at most; beyond it new ones are refused (keep it below the file-descriptor limit). */
  maxConnections: number;
  /** Churn threshold override; the bundle manifest's when undefined. */
  threshold?: number;
  /** Share of gated customers held out of interventions, and the assignment's salt; the manifest's when undefined. */
  holdout?: number;
  holdoutSalt?: string;
  /** A customer table imported into the customer store at start. */
  customersFile?: string;
  /** PostgreSQL for all shared state (DESIGN section 9); the embedded store in `dataDir` without it. */
  databaseUrl?: string;
  /** This process's name among the replicas (health, snapshot, latency metrics). */
  replicaId: string;
  /** Connections in this process's PostgreSQL pool. */
  databasePoolSize: number;
  /** Processes sharing the port (node:cluster); 1: the server in this process, no primary. */
  workers: number;
  /** With PostgreSQL: predictions and outcomes older than this many days are deleted. */
  logRetentionDays: number;
  /** Event types that score their customer once applied. */
  triggers: string[];
  /** For a models folder of pickles: whether the churn model was trained on raw or scaled columns. */
  churnInput?: "raw" | "scaled";
  dataDir: string;
  webhookUrl?: string;
  /** Prediction-log retention: segments kept, and the size at which a segment is closed. */
  logSegments: number;
  logSegmentBytes: number;
  /** Webhook calls in flight at most (WEBHOOK_CONCURRENCY). */
  webhookConcurrency: number;
  /** An outcome given by customer id joins the customer's latest prediction only if made within this many days. */
  outcomeCustomerWindowDays: number;
  /** Log, monitor and workflow observers on (default); off only to measure their overhead. */
  monitoring: boolean;
  /** API keys (API_KEYS or API_KEYS_FILE) as digests; access control is off when undefined. */
  apiKeys?: ApiKey[];
  /** Origins allowed cross-origin requests and WebSocket upgrades (CORS_ORIGINS). */
  corsOrigins: string[];
}

/** Flag name, environment variable, and how to read it. */
const OPTIONS = {
  port: { env: "PORT", kind: "int", min: 0, max: 65535, default: 3000 },
  host: { env: "HOST", kind: "string", default: "127.0.0.1" },
  models: { env: "MODELS_DIR", kind: "string", default: bundledModels, shown: "the bundled models/" },
  "max-body-bytes": { env: "MAX_BODY_BYTES", kind: "int", min: 1024, max: 1 << 30, default: 16 * 1024 * 1024 },
  "max-batch": { env: "MAX_BATCH_CUSTOMERS", kind: "int", min: 1, max: 1_000_000, default: 10_000 },
  "max-connections": { env: "MAX_CONNECTIONS", kind: "int", min: 1, max: 1_000_000, default: 800 },
  threshold: { env: "CHURN_THRESHOLD", kind: "number", min: 0, max: 1 },
  holdout: { env: "HOLDOUT", kind: "number", min: 0, max: 0.99 },
  "holdout-salt": { env: "HOLDOUT_SALT", kind: "string" },
  customers: { env: "CUSTOMERS_FILE", kind: "string" },
  "database-url": { env: "DATABASE_URL", kind: "string" },
  "database-pool-size": { env: "DATABASE_POOL_SIZE", kind: "int", min: 1, max: 1000, default: 10 },
  "log-retention-days": { env: "LOG_RETENTION_DAYS", kind: "number", min: 1, max: 36_500, default: 30 },
  workers: { env: "WORKERS", kind: "int", min: 1, max: 64, default: 1 },
  "replica-id": { env: "REPLICA_ID", kind: "string", default: defaultReplica, shown: "host name-pid" },
  triggers: { env: "TRIGGER_EVENTS", kind: "string", default: "login,billing,usage,support_ticket" },
  "churn-input": { env: "CHURN_INPUT", kind: "string" },
  "data-dir": { env: "DATA_DIR", kind: "string", default: ".data" },
  "webhook-url": { env: "WEBHOOK_URL", kind: "url" },
  "log-segments": { env: "LOG_SEGMENTS", kind: "int", min: 1, max: 100_000, default: 16 },
  "log-segment-bytes": { env: "LOG_SEGMENT_BYTES", kind: "int", min: 4096, max: 2 ** 40, default: 64 * 1024 * 1024 },
  "webhook-concurrency": { env: "WEBHOOK_CONCURRENCY", kind: "int", min: 1, max: 1024, default: 8 },
  "outcome-customer-window-days": { env: "OUTCOME_CUSTOMER_WINDOW_DAYS", kind: "number", min: 0, max: 36_500, default: 90 },
  monitoring: { env: "MONITORING", kind: "switch", default: "on" },
  "api-keys-file": { env: "API_KEYS_FILE", kind: "string" },
  "cors-origins": { env: "CORS_ORIGINS", kind: "string" },
} as const;

type Spec = {
  env: string;
  kind: "int" | "number" | "string" | "url" | "switch";
  min?: number;
  max?: number;
  /** A value, or how to find it when it depends on where the package is installed. */
  default?: number | string | (() => string);
  /** The default as the help says it, when it is found rather than fixed. */
  shown?: string;
};

export class ConfigError extends Error {}

function read(name: string, spec: Spec, raw: string | undefined, from: string): number | string | undefined {
  if (raw === undefined || raw === "") return typeof spec.default === "function" ? spec.default() : spec.default;
  if (spec.kind === "string") return raw;
  if (spec.kind === "switch") {
    if (raw !== "on" && raw !== "off") throw new ConfigError(`${from}: expected on or off, got ${JSON.stringify(raw)}`);
    return raw;
  }
  if (spec.kind === "url") {
    try {
      const u = new URL(raw);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
    } catch {
      throw new ConfigError(`${from}: expected an http(s) URL, got ${JSON.stringify(raw)}`);
    }
    return raw;
  }
  const v = Number(raw);
  const ok = spec.kind === "int" ? Number.isInteger(v) : Number.isFinite(v);
  if (!ok || (spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) {
    throw new ConfigError(`${from}: expected ${spec.kind === "int" ? "an integer" : "a number"} in ${spec.min}..${spec.max}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

function churnInput(raw: string | undefined, from: string): "raw" | "scaled" | undefined {
  if (raw === undefined || raw === "raw" || raw === "scaled") return raw;
  throw new ConfigError(`${from}: expected raw or scaled, got ${JSON.stringify(raw)}`);
}

function triggerList(raw: string, from: string): string[] {
  const list = raw.split(",").map((t) => t.trim()).filter((t) => t !== "");
  const bad = list.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (bad.length) throw new ConfigError(`${from}: unknown event type(s) ${bad.join(", ")}; expected a comma-separated list of ${EVENT_TYPES.join(", ")}`);
  return list;
}

/**
 * API_KEYS (environment only: a key in a process's arguments is visible to every local user) or
 * API_KEYS_FILE (a file of the same JSON); neither: access control off.
 */
function apiKeys(env: Record<string, string | undefined>, file: string | undefined, fileFrom: string): ApiKey[] | undefined {
  const inline = env.API_KEYS;
  if (inline && file) throw new ConfigError(`API_KEYS and ${fileFrom} are both set; set one of them`);
  let text = inline;
  let from = "API_KEYS";
  if (file) {
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(`${fileFrom}: cannot read ${file}: ${(err as Error).message}`);
    }
    from = `${fileFrom} (${file})`;
  }
  if (!text) return undefined;
  try {
    return parseApiKeys(text, from);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function corsOrigins(raw: string | undefined, from: string): string[] {
  try {
    return parseOrigins(raw ?? "", from);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Reads flags (`--port 8080`) over environment variables (`PORT=8080`) over defaults. */
export function loadConfig(args: string[] = [], env: Record<string, string | undefined> = process.env): Config {
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args,
      options: Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const value = (name: keyof typeof OPTIONS) => {
    const spec = OPTIONS[name] as Spec;
    const flag = flags[name] as string | undefined;
    return flag !== undefined ? read(name, spec, flag, `--${name}`) : read(name, spec, env[spec.env], spec.env);
  };
  return {
    port: value("port") as number,
    host: value("host") as string,
    modelsDir: value("models") as string,
    maxBodyBytes: value("max-body-bytes") as number,
    maxBatchCustomers: value("max-batch") as number,
    maxConnections: value("max-connections") as number,
    threshold: value("threshold") as number | undefined,
    holdout: value("holdout") as number | undefined,
    holdoutSalt: value("holdout-salt") as string | undefined,
    customersFile: value("customers") as string | undefined,
    databaseUrl: value("database-url") as string | undefined,
    replicaId: value("replica-id") as string,
    databasePoolSize: value("database-pool-size") as number,
    workers: value("workers") as number,
    logRetentionDays: value("log-retention-days") as number,
    churnInput: churnInput(value("churn-input") as string | undefined, flags["churn-input"] !== undefined ? "--churn-input" : "CHURN_INPUT"),
    triggers: triggerList(value("triggers") as string, flags.triggers !== undefined ? "--triggers" : "TRIGGER_EVENTS"),
    dataDir: value("data-dir") as string,
    webhookUrl: value("webhook-url") as string | undefined,
    logSegments: value("log-segments") as number,
    logSegmentBytes: value("log-segment-bytes") as number,
    webhookConcurrency: value("webhook-concurrency") as number,
    outcomeCustomerWindowDays: value("outcome-customer-window-days") as number,
    monitoring: value("monitoring") === "on",
    apiKeys: apiKeys(env, value("api-keys-file") as string | undefined, flags["api-keys-file"] !== undefined ? "--api-keys-file" : "API_KEYS_FILE"),
    corsOrigins: corsOrigins(value("cors-origins") as string | undefined, flags["cors-origins"] !== undefined ? "--cors-origins" : "CORS_ORIGINS"),
  };
}

export const CONFIG_HELP = Object.entries(OPTIONS)
  .map(([flag, s]) => `  --${flag.padEnd(15)} ${s.env.padEnd(20)} ${"shown" in s ? `default ${s.shown}` : "default" in s ? `default ${s.default}` : "unset"}`)
  .join("\n") + `\n  ${"".padEnd(17)} ${"API_KEYS".padEnd(20)} unset (environment only; or API_KEYS_FILE)`;
