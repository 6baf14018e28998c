// The console's holdout panel in a real browser (as test/console.test.ts): empty states before any
// outcome, then predicted vs realized per intervention with intervals, and the Qini curve.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import packagedChromium from "@sparticuz/chromium";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { BatchPredictResponse } from "../server/contract/api.ts";
import type { RunningServer } from "../server/http/server.ts";
import { readCsvRecords } from "./helpers/customers.ts";
import { post, testServer } from "./helpers/server.ts";

let browser: Browser;
let server: RunningServer;
beforeAll(async () => {
  server = await testServer(["--holdout", "0.5", "--data-dir", mkdtempSync(join(tmpdir(), "console-uplift-"))]);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? (await packagedChromium.executablePath()),
    args: [...packagedChromium.args, "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it("shows realized uplift next to the predicted reduction, and the Qini curve", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${server.url}/console`);
  await page.waitForFunction(() => document.getElementById("conn")?.textContent === "live");
  await page.waitForFunction(() => document.getElementById("upliftstats")?.textContent?.includes("labelled 0 treated"));
  expect(await page.locator("#uplift").innerText()).toContain("no labelled treated or holdout customers yet");
  expect(await page.locator("#qini").textContent()).toContain("too few labelled");

  const { body } = await post(`${server.url}/batch-predict`, { customers: readCsvRecords(2000) });
  const outcomes = (body as BatchPredictResponse).results.map((r, i) => ({ prediction_id: r.prediction_id, churned: r.holdout ? i % 2 === 0 : i % 3 === 0 }));
  await post(`${server.url}/outcomes`, { outcomes });
  await page.waitForFunction(() => document.querySelector("#qini #qiniline") !== null);
  const stats = await page.locator("#upliftstats").innerText();
  expect(stats).toMatch(/holdout 50\.0 % · labelled \d+ treated, \d+ holdout · realized value/);
  const overall = (await page.locator("#uplift tr").first().innerText()).split("\t").map((c) => c.trim());
  expect(overall[0]).toBe("overall");
  expect(overall[6]).toMatch(/^\[-?0\.\d+, 0\.\d+\]$/);
  expect(Number(overall[7])).toBeGreaterThan(0);
  expect(await page.locator("#upliftbars circle.realized").count()).toBeGreaterThanOrEqual(2);
  expect(await page.locator("#upliftbars rect.predicted").count()).toBeGreaterThanOrEqual(2);
  await page.close();
});
