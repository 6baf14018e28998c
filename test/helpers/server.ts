// A real server on a loopback port for end-to-end tests.
import { loadConfig } from "../../server/config.ts";
import { startServer, type RunningServer } from "../../server/http/server.ts";

export async function testServer(flags: string[] = []): Promise<RunningServer> {
  return startServer(loadConfig(["--port", "0", "--host", "127.0.0.1", ...flags], {}));
}

export const SEED_REQUEST = {
  customer_id: "CUST-001",
  tenure: 12,
  monthly_charges: 70.5,
  contract_type: "Month-to-month",
  internet_service: "Fiber optic",
};

export async function post(url: string, body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) {
  const res = await fetch(url, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}
