// Runs the Deno end-to-end checks (test/deno/e2e_deno.ts) with the `deno` dev dependency and
// requires them to pass there.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import { denoExecutable } from "./helpers/deno.ts";

it("the end-to-end checks pass under Deno", () => {
  const run = spawnSync(denoExecutable(), ["test", "-A", "--no-check", "test/deno/e2e_deno.ts"], { encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } });
  const output = `${run.stdout}\n${run.stderr}`;
  expect(output, output).toMatch(/ok \| 1 passed \| 0 failed/);
  expect(run.status).toBe(0);
}, 150_000);
