// HAProxy (Debian's haproxy) in front of the replicas, as a deployment would run it: round robin,
// replicas taken out by their /health/ready, and a request that could not reach a replica sent to
// another. The config is written to a folder of its own; haproxy runs in the foreground (-db) as a
// child of the test, its log (errors and abnormal requests only) in that folder.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Backend {
  name: string;
  port: number;
}

/**
 * Retries, and why they are safe for this API (every data route is a POST, none idempotent:
 * /predict logs a prediction, sets cooldowns and makes a workflow entry; /outcomes records one):
 *
 * - conn-failure: the connection to the replica was refused or timed out, so the request never
 *   reached it. Retrying it elsewhere (`option redispatch 1`: every retry picks another server) is
 *   safe for any method. This is what hides a killed replica until the health check (`inter 200ms
 *   fall 2`, so about 0.4 s) takes it out.
 * - empty-response and response-timeout: the request was sent, and the replica may have acted on it
 *   (committed the prediction and died before answering, or is still working). A second attempt
 *   would make a second prediction (its cooldown and webhook included) or answer a retried outcome
 *   as a conflict. So they apply to GET only (health, metrics, tRPC queries):
 *   `http-request disable-l7-retry if METH_POST` leaves POSTs with conn-failure alone, and the client
 *   gets the 502 for a POST in flight on a replica at the moment it dies: not acknowledged, so
 *   nothing the client was told is lost, and the client may retry it knowing that.
 * - `option http-server-close`: one server connection per request. A kept-alive server connection
 *   that the replica closes as idle (Node closes them after 5 s) just when HAProxy reuses it fails
 *   as an empty response; with POSTs not retried on that, it would be a spurious 502 in steady
 *   state. A new loopback connection per request costs little at this rate.
 */
export function haproxyConfig(frontendPort: number, backends: Backend[]): string {
  return `global
  maxconn 4096
  log stdout format raw local0 info

defaults
  mode http
  log global
  option httplog
  option dontlog-normal
  option http-server-close
  timeout connect 1s
  timeout client 30s
  # Far above a healthy request (milliseconds); a replica that hangs is cut off here (504).
  timeout server 5s
  timeout queue 2s
  timeout http-request 5s
  # A check's answer may take this long (else \`inter\`, 200 ms: a replica busy for a moment on 2
  # shared cores would fail two checks and, with the others, leave no server). A dead replica
  # refuses the connection at once, so it is still out within about 0.4 s.
  timeout check 1s
  retries 2
  option redispatch 1
  retry-on conn-failure empty-response response-timeout

frontend fe
  bind 127.0.0.1:${frontendPort}
  default_backend replicas

backend replicas
  balance roundrobin
  http-request disable-l7-retry if METH_POST
  option httpchk GET /health/ready
  http-check expect status 200
  # Which replica answered, for the test (an outcome joined on another replica than its prediction's).
  http-response set-header x-served-by %[srv_name]
  default-server inter 200ms fall 2 rise 2
${backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`).join("\n")}
`;
}

export interface Haproxy {
  url: string;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** Checks the config (haproxy -c), then runs haproxy until stop(). */
export async function startHaproxy(dir: string, frontendPort: number, backends: Backend[]): Promise<Haproxy> {
  const cfg = join(dir, "haproxy.cfg");
  const logFile = join(dir, "haproxy.log");
  writeFileSync(cfg, haproxyConfig(frontendPort, backends));
  const checked = spawn("haproxy", ["-c", "-q", "-f", cfg], { stdio: ["ignore", "pipe", "pipe"] });
  let checkOutput = "";
  checked.stdout!.on("data", (d) => (checkOutput += d));
  checked.stderr!.on("data", (d) => (checkOutput += d));
  const code = await new Promise<number | null>((resolve) => checked.once("close", resolve));
  if (code !== 0) throw new Error(`haproxy -c refused the config:\n${checkOutput}`);
  const out = openSync(logFile, "a");
  const child: ChildProcess = spawn("haproxy", ["-db", "-f", cfg], { stdio: ["ignore", out, out] });
  const url = `http://127.0.0.1:${frontendPort}`;
  const logTail = (lines = 30) => readFileSync(logFile, "utf8").trim().split("\n").slice(-lines).join("\n");
  // Up when the frontend answers (503 until a replica passes its check is fine).
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${logTail()}`);
    try {
      await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`haproxy did not listen on ${url} within 10 s:\n${logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    logTail,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
