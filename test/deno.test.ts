// Runs the Deno end-to-end checks (test/deno/e2e_deno.ts) with the `deno` dev dependency and
// requires them to pass there. The checks note each step in a file, so a failure says which step
// it reached.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { denoExecutable } from "./helpers/deno.ts";

it("the end-to-end checks pass under Deno", { timeout: 150_000 }, () => {
  const steps = join(mkdtempSync(join(tmpdir(), "deno-steps-")), "steps.txt");
  const run = spawnSync(denoExecutable(), ["test", "-A", "--no-check", "test/deno/e2e_deno.ts"], { encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1", E2E_STEPS: steps } });
  const reached = (() => {
    try {
      return readFileSync(steps, "utf8").trim().split("\n").pop();
    } catch {
      return "(none)";
    }
  })();
  const output = `last step: ${reached}\n${run.stdout}\n${run.stderr}`;
  expect(output, output).toMatch(/ok \| 1 passed \| 0 failed/);
  expect(run.status).toBe(0);
});
