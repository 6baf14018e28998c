// kill -9 loses nothing that was acknowledged as logged: a real child process appends to the log
// and reports each durable sequence number; it is killed with SIGKILL mid-stream; the reopened
// log holds every reported record, intact. With the workflow: every intervention logged before the
// kill is delivered by the next process.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { FileLog } from "../server/store/log.ts";
import { Outbox } from "../server/store/outbox.ts";
import { writeThenKill } from "./helpers/kill-writer.ts";

/** Runs the log writer until it has reported `upTo` records durable, then SIGKILLs it; returns how many it reported. */
const writeLogThenKill = (dir: string, mode: string[], upTo: number) => writeThenKill("test/helpers/log-writer.ts", [dir, ...mode], upTo);

it("a SIGKILL after a record is reported durable loses none of them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "crash-"));
  const acknowledged = await writeLogThenKill(dir, [], 3000);
  const log = await FileLog.open(dir, { recentSize: Infinity });
  const found = new Map(log.recent().predictions.map((r) => [r.prediction_id, r]));
  for (let i = 1; i <= acknowledged; i++) expect(found.get(`id-${i}`)?.inputs.tenure).toBe(i);
  expect(log.durableSeq).toBeGreaterThanOrEqual(acknowledged);
  await log.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

it("every intervention logged before a SIGKILL is delivered by the next process", async () => {
  const dir = mkdtempSync(join(tmpdir(), "crash-workflow-"));
  const acknowledged = await writeLogThenKill(dir, ["workflow"], 1000);
  const delivered = new Set<string>();
  const hook = createServer((req, res) => {
    delivered.add(req.headers["idempotency-key"] as string);
    req.resume();
    req.on("end", () => res.writeHead(200).end());
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  const outbox = await Outbox.open(join(dir, "outbox"), { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`, concurrency: 32 });
  const log = await FileLog.open(join(dir, "log"), { workflow: outbox });
  await outbox.start(log);
  const end = Date.now() + 60_000;
  while (outbox.status().pending > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  for (let i = 1; i <= acknowledged; i++) expect(delivered.has(`id-${i}`), `id-${i}`).toBe(true);
  await log.close();
  await outbox.close();
  hook.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);
