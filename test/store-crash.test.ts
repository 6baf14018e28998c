// kill -9 loses nothing that was acknowledged as logged: a real child process appends to the log
// and reports each durable sequence number; it is killed with SIGKILL mid-stream; the reopened
// log holds every reported record, intact.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { FileLog } from "../server/store/log.ts";
import { denoCommand } from "./helpers/deno.ts";

it("a SIGKILL after a record is reported durable loses none of them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "crash-"));
  const [cmd, args] = denoCommand(["test/helpers/log-writer.ts", dir]);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  let acknowledged = 0;
  await new Promise<void>((resolve, reject) => {
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const l of lines) acknowledged = Math.max(acknowledged, Number(l.split(" ")[1]));
      if (acknowledged >= 3000) {
        child.kill("SIGKILL");
        resolve();
      }
    });
    child.on("exit", (code) => (acknowledged >= 3000 ? resolve() : reject(new Error(`writer exited early (${code})`))));
  });
  await new Promise((r) => child.once("exit", r));
  const log = await FileLog.open(dir, { recentSize: Infinity });
  const found = new Map(log.recent().predictions.map((r) => [r.prediction_id, r]));
  for (let i = 1; i <= acknowledged; i++) expect(found.get(`id-${i}`)?.inputs.tenure).toBe(i);
  expect(log.durableSeq).toBeGreaterThanOrEqual(acknowledged);
  await log.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);
