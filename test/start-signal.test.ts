// `npm start` as an operator runs it: SIGTERM to the npm process stops the server (the script
// execs node, so npm's child is the server itself and gets the signal npm passes on).
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";

it("SIGTERM to npm start stops the server, which finishes and exits", async () => {
  const child = spawn("npm", ["start", "--silent"], {
    env: { ...process.env, PORT: "0", DATA_DIR: mkdtempSync(join(tmpdir(), "start-signal-")), LOG_LEVEL: "off" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`npm start exited early (${code}): ${out}`)));
  });
  expect((await fetch(`${url}/health/live`)).status).toBe(200);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  await exited;
  // The server is gone too, not left running without its npm.
  let down = false;
  for (let i = 0; i < 50 && !down; i++) {
    down = await fetch(`${url}/health/live`).then(() => false, () => true);
    if (!down) await new Promise((r) => setTimeout(r, 100));
  }
  expect(down).toBe(true);
  expect(out).toMatch(/SIGTERM: finishing in-flight requests/);
}, 60_000);
