// A real server on a loopback port for end-to-end tests.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../server/config.ts";
import { startServer, type RunningServer } from "../../server/http/server.ts";
import type { PredictRequest } from "../../server/contract/api.ts";

/** A fresh data directory (log, outbox) unless `--data-dir` is given. */
export async function testServer(flags: string[] = []): Promise<RunningServer> {
  const dataDir = flags.includes("--data-dir") ? [] : ["--data-dir", mkdtempSync(join(tmpdir(), "churn-data-"))];
  return startServer(loadConfig(["--port", "0", "--host", "127.0.0.1", ...dataDir, ...flags], {}));
}

export const SEED_REQUEST = {
  customer_id: "CUST-001",
  tenure: 12,
  monthly_charges: 70.5,
  contract_type: "Month-to-month",
  internet_service: "Fiber optic",
} satisfies PredictRequest;

export async function post(url: string, body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) {
  const res = await fetch(url, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}
