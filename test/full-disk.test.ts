// A full disk, for real: DATA_DIR on a 2 MB tmpfs, filled until writes fail with ENOSPC, then
// given space again. The log counts only what it wrote and synced, leaves no torn line among good
// ones and recovers by itself; the service refuses predictions (503) and is not ready while the
// log cannot write, and every prediction it answered is in the log once space returns; a restart
// on a full disk keeps the outbox. Mounting needs root: elsewhere the tests are skipped, saying so
// (in CI they must run).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PredictionIds } from "../server/contract/ids.ts";
import type { PredictionRecord } from "../server/contract/records.ts";
import { FileLog } from "../server/store/log.ts";
import type { WorkflowPayload } from "../server/contract/storage.ts";
import { Outbox } from "../server/store/outbox.ts";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { readCsvRecords } from "./helpers/customers.ts";
import { post, testServer } from "./helpers/server.ts";

/** A 2 MB tmpfs, or why none could be mounted. */
function mountSmallDisk(): { dir: string } | { reason: string } {
  const dir = mkdtempSync(join(tmpdir(), "full-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir], { stdio: "pipe" });
    return { dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { reason: `cannot mount a tmpfs (${(err as Error).message.split("\n")[0]})` };
  }
}

const disk = mountSmallDisk();
if ("reason" in disk) {
  if (process.env.CI) throw new Error(`full-disk tests must run in CI: ${disk.reason}`);
  console.warn(`full-disk tests skipped: ${disk.reason}; they need root (mount -t tmpfs)`);
}
const root = "dir" in disk ? disk.dir : "";
afterAll(() => {
  if (!root) return;
  // Lazily: a failed test may have left a file open on it, which would make a plain umount refuse.
  execFileSync("umount", ["-l", root]);
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
/** A fresh folder on the small disk, emptied first so that each test has the whole disk. */
function onDisk(): string {
  for (const name of readdirSync(root)) rmSync(join(root, name), { recursive: true, force: true });
  const dir = join(root, `t${n++}`);
  return dir;
}

/** Takes all but `leave` bytes of the disk; returns a function that gives them back. */
function fill(leave: number): () => void {
  const path = join(root, "filler");
  const free = Number(execFileSync("df", ["--output=avail", "-B1", root]).toString().split("\n")[1]);
  writeFileSync(path, Buffer.alloc(Math.max(0, free - leave)));
  return () => rmSync(path, { force: true });
}

async function until(check: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const instance = new PredictionIds().instance;
const id = (i: number) => PredictionIds.format(instance, i);
/** About 1 KB a line: a 2 MB disk fills in a few hundred. */
function record(i: number, extra: Partial<PredictionRecord> = {}): PredictionRecord {
  return {
    prediction_id: id(i), at: Date.now(), operation: "predict", customer_id: `c${i}`, model_version: "m",
    inputs: { tenure: i, note: "x".repeat(900) }, imputed_features: [], churn_probability: 0.5, effects: null,
    recommended_intervention: null, should_intervene: false, predicted_churn_reduction: null, cost: null, expected_value: null, latency_ms: 1,
    ...extra,
  };
}

/** Every line of every segment: parsed records, and lines that do not parse. */
function readBack(dir: string): { ids: string[]; bad: number } {
  const ids: string[] = [];
  let bad = 0;
  for (const name of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, name), "utf8");
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        ids.push(JSON.parse(line).prediction_id);
      } catch {
        bad++;
      }
    }
  }
  return { ids, bad };
}

describe.skipIf(!root)("a full disk", () => {
  it("the log counts only what it wrote and synced, leaves no torn line, and recovers when space returns", async () => {
    const dir = onDisk();
    const log = await FileLog.open(dir, { retryMs: 20 });
    const release = fill(64 * 1024);
    let i = 0;
    // Appends one at a time, as requests do, until a commit fails.
    while (!log.writeError) {
      log.onPredictions([record(i++)]);
      await new Promise((r) => setTimeout(r, 2));
      if (i > 5000) throw new Error("the disk never filled");
    }
    expect(log.writeError?.message).toMatch(/ENOSPC|no space/i);
    // More appends while failing: none counted durable, none on disk beside the good ones.
    log.onPredictions([record(i++), record(i++)]);
    await new Promise((r) => setTimeout(r, 100));
    const durable = log.durableSeq;
    expect(durable).toBeLessThan(log.appendedSeq);
    const during = readBack(dir);
    expect(during.bad).toBe(0);
    expect(during.ids).toEqual(Array.from({ length: durable }, (_, k) => id(k)));
    release();
    await until(() => log.writeError === null);
    await log.flushed();
    expect(log.durableSeq).toBe(i);
    await log.close();
    const after = readBack(dir);
    expect(after.bad).toBe(0);
    expect(after.ids).toEqual(Array.from({ length: i }, (_, k) => id(k)));
  });

  it("the service refuses predictions (503) and is not ready while the log cannot write, and logs every one it answered", async () => {
    const dir = onDisk();
    const server = await testServer(["--data-dir", dir]);
    const answered: string[] = [];
    try {
      const release = fill(96 * 1024);
      const customers = readCsvRecords(50);
      let refused: Response | null = null;
      for (let k = 0; k < 5000 && !refused; k++) {
        const res = await fetch(`${server.url}/batch-predict`, {
          method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customers }),
        });
        if (res.status === 503) refused = res;
        else {
          expect(res.status).toBe(200);
          answered.push(...((await res.json()) as { results: { prediction_id: string }[] }).results.map((r) => r.prediction_id));
        }
      }
      expect(refused, "the disk never filled").not.toBeNull();
      expect(refused!.headers.get("retry-after")).toBe("5");
      expect(((await refused!.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/prediction log cannot write.*ENOSPC/) });
      expect((await fetch(`${server.url}/health/ready`)).status).toBe(503);
      const health = (await (await fetch(`${server.url}/health`)).json()) as { ready: boolean; storage: { ok: boolean; error: string } };
      expect(health).toMatchObject({ ready: false, storage: { ok: false, error: expect.stringMatching(/ENOSPC/) } });
      expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^churn_log_write_ok 0$/m);
      expect((await post(`${server.url}/outcomes`, { prediction_id: answered[0], churned: true })).status).toBe(503);

      release();
      await until(async () => (await fetch(`${server.url}/health/ready`)).status === 200);
      expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^churn_log_write_ok 1$/m);
      const again = await post(`${server.url}/predict`, customers[0]);
      expect(again.status).toBe(200);
      answered.push(again.body.prediction_id);
      await server.app.log.flushed();
      expect(server.app.log.durableSeq).toBe(server.app.log.appendedSeq);
    } finally {
      await server.close();
    }
    const { ids, bad } = readBack(join(dir, "log"));
    expect(bad).toBe(0);
    expect(new Set(ids).size).toBe(ids.length);
    const logged = new Set(ids);
    expect(answered.filter((p) => !logged.has(p))).toEqual([]);
  });

  it("a restart on a full disk keeps the outbox: its compaction fails and the file stays as it was", async () => {
    const dir = onDisk();
    const outboxDir = join(dir, "outbox");
    // 300 entries of an earlier version, still to deliver.
    const entries = Array.from({ length: 300 }, (_, k) => {
      const payload: WorkflowPayload = {
        prediction_id: `e${k}`, customer_id: `c${k}`, intervention: "retention_call", cost: 12, expected_value: 50,
        churn_probability: 0.6, predicted_churn_reduction: 0.1, model_version: "m", at: new Date().toISOString(),
      };
      return JSON.stringify({ t: "enqueued", payload, headers: { "x-request-id": "r".repeat(500) } }) + "\n";
    });
    const first = await Outbox.open(outboxDir);
    const firstLog = await FileLog.open(join(dir, "log"), { workflow: first });
    await first.start(firstLog);
    await firstLog.close();
    await first.close();
    writeFileSync(join(outboxDir, "outbox.jsonl"), entries.join(""));
    const before = readFileSync(join(outboxDir, "outbox.jsonl"), "utf8");
    const release = fill(4 * 1024);
    const second = await Outbox.open(outboxDir);
    const secondLog = await FileLog.open(join(dir, "log"), { workflow: second });
    await second.start(secondLog);
    expect(second.status().recorded).toBe(300);
    await secondLog.close();
    await second.close();
    expect(readFileSync(join(outboxDir, "outbox.jsonl"), "utf8")).toBe(before);
    expect(readdirSync(outboxDir)).toEqual(["outbox.jsonl"]);
    release();

    const calls: string[] = [];
    const hook = createServer((req: IncomingMessage, res) => {
      calls.push(req.headers["idempotency-key"] as string);
      req.resume();
      req.on("end", () => res.writeHead(200).end());
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    try {
      const third = await Outbox.open(outboxDir, { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/` });
      const thirdLog = await FileLog.open(join(dir, "log"), { workflow: third });
      await third.start(thirdLog);
      await until(() => third.status().delivered === 300);
      expect(new Set(calls).size).toBe(300);
      await thirdLog.close();
      await third.close();
    } finally {
      hook.close();
    }
  });
});
