// The live console in a real browser (the headless Chromium that @sparticuz/chromium ships inside
// its npm package, driven by playwright-core; nothing is downloaded at run time): it connects over
// WebSocket, renders latency, calibration and drift, and shows an alert when one fires.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import packagedChromium from "@sparticuz/chromium";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createApp } from "../server/app.ts";
import { loadConfig } from "../server/config.ts";
import { startServer, type RunningServer } from "../server/http/server.ts";
import { readCsvRecords } from "./helpers/customers.ts";
import { post } from "./helpers/server.ts";

let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  const config = loadConfig(["--port", "0", "--data-dir", mkdtempSync(join(tmpdir(), "console-"))], {});
  server = await startServer(config, await createApp(config, { driftWindow: 200 }));
  // Without the background-networking flags Chromium keeps dialling hosts this closed network refuses.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? (await packagedChromium.executablePath()),
    args: [...packagedChromium.args, "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it("shows live metrics, drift and a firing alert", async () => {
  await post(`${server.url}/batch-predict`, { customers: readCsvRecords(300) });
  const page = await browser.newPage();
  await page.goto(`${server.url}/console`);
  await page.waitForFunction(() => document.getElementById("conn")?.textContent === "live");
  await page.waitForFunction(() => Number(document.getElementById("requests")?.textContent) >= 1);
  await expect.poll(() => page.locator("#drift tr").count()).toBe(14);
  expect(await page.locator("#model").textContent()).toBe("churn-default@2026.11.0");
  expect(await page.locator("#latency polyline").count()).toBe(3);

  // Shifted traffic: the drift alert reaches the page through the alerts subscription.
  const shifted = readCsvRecords(300).map((c, i) => ({ ...c, customer_id: `s${i}`, tenure: 72, contract_type: "Month-to-month" }));
  await post(`${server.url}/batch-predict`, { customers: shifted });
  await page.waitForFunction(() => document.getElementById("alerts")?.textContent?.includes("feature_drift · tenure"), null, { timeout: 10_000 });
  expect(await page.locator("#events li.firing").count()).toBeGreaterThan(0);
  expect(await page.locator("#drift tr.drifted").count()).toBeGreaterThan(0);
  mkdirSync("test-results", { recursive: true });
  await page.screenshot({ path: "test-results/console.png", fullPage: true });
}, 60_000);
