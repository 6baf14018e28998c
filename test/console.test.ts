// The live console in a real browser (the headless Chromium that @sparticuz/chromium ships inside
// its npm package, driven by playwright-core; nothing is downloaded at run time): every panel with
// no data and with data, the server's history on subscribe, a drift alert with the drifted
// input's histograms, a reconnect to a restarted server, and the optional API key.
// UPDATE_SCREENSHOTS=1 (npm run docs:screenshots) writes docs/console.png and docs/console-drift.png.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import packagedChromium from "@sparticuz/chromium";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../server/app.ts";
import { loadConfig } from "../server/config.ts";
import { startServer, type RunningServer } from "../server/http/server.ts";
import { readCsvRecords, sampleRecords } from "./helpers/customers.ts";
import { post } from "./helpers/server.ts";

const MONITOR = { driftWindow: 200, minLabelsPerClass: 40, historyIntervalMs: 500 };
const screenshots = process.env.UPDATE_SCREENSHOTS === "1";
let browser: Browser;

async function serve(dataDir = mkdtempSync(join(tmpdir(), "console-")), port = 0): Promise<RunningServer> {
  const config = loadConfig(["--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir], {});
  return startServer(config, await createApp(config, MONITOR));
}

async function open(server: RunningServer, width = 1400): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  await page.goto(`${server.url}/console`);
  await page.waitForFunction(() => document.getElementById("conn")?.textContent === "live");
  await page.waitForFunction(() => document.getElementById("model")?.textContent !== "–");
  return page;
}

/** Rendered text: innerText for HTML, textContent for SVG (which has no innerText). */
const text = (page: Page, selector: string) => page.locator(selector).evaluate((e) => (e instanceof HTMLElement ? e.innerText : e.textContent ?? ""));

beforeAll(async () => {
  // Without the background-networking flags Chromium keeps dialling hosts this closed network refuses.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? (await packagedChromium.executablePath()),
    args: [...packagedChromium.args, "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
afterAll(async () => {
  await browser?.close();
});

describe("console", () => {
  it("renders every panel with no data: empty states, dashes and zero windows, no 0.00", async () => {
    const server = await serve();
    try {
      const page = await open(server, 420); // a phone-width screen
      expect(await text(page, "#latency")).toContain("no requests yet");
      expect(await text(page, "#calstats")).toBe("no labelled outcomes yet");
      expect(await page.locator("#calibration #diagonal").count()).toBe(1);
      expect(await page.locator("#reliability tr").count()).toBe(10);
      await expect.poll(() => page.locator("#drift tr").count()).toBe(14);
      const tenure = await text(page, '#drift tr[data-feature="tenure"]');
      expect(tenure.split("\t").map((c) => c.trim())).toEqual(["tenure", "ks", "–", "–", "0"]);
      expect(await text(page, "#drift")).not.toContain("0.00");
      expect(await text(page, "#histograms")).toContain("no drifted inputs");
      expect(await text(page, "#scores")).toContain("no predictions yet");
      expect(await text(page, "#interventions")).toContain("none recommended yet");
      expect(await text(page, "#workflow")).toContain("no webhook configured");
      expect(await text(page, "#inputs")).toContain("no requests yet");
      expect(await text(page, "#alerts")).toContain("none firing");
      // Narrow screen: no panel wider than the viewport.
      const widest = await page.evaluate(() => Math.max(...Array.from(document.querySelectorAll("section")).map((s) => s.getBoundingClientRect().right)));
      expect(widest).toBeLessThanOrEqual(420);
    } finally {
      await server.close();
    }
  });

  it("shows history on subscribe, every panel with data, then a drift with its histograms, and survives a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "console-"));
    let server = await serve(dataDir);
    const records = sampleRecords();
    try {
      const customers = readCsvRecords(600);
      const { body } = await post(`${server.url}/batch-predict`, { customers });
      await post(`${server.url}/outcomes`, { outcomes: body.results.map((r: { prediction_id: string }, i: number) => ({ prediction_id: r.prediction_id, churned: records[i].churned === "1" })) });
      await post(`${server.url}/predict`, { ...customers[0], customer_id: "one", payment_method: "Cryptocurrency" });
      await new Promise((resolve) => setTimeout(resolve, 1600)); // a few history points (every 500 ms here)

      const page = await open(server);
      // The first snapshot brought the server's history: more than one point at once.
      expect(Number(await page.locator("#latency").getAttribute("data-points"))).toBeGreaterThan(1);
      expect(await page.locator("#latency polyline").count()).toBe(3);
      expect(await page.locator("#latency text.tick").count()).toBe(5);
      expect(await text(page, "#latency")).toContain("ms");
      expect(await page.locator("#throughput polyline").count()).toBe(1);
      await expect.poll(() => text(page, "#calstats")).toMatch(/^AUC 0\.\d+ · Brier .* · 600 labelled$/);
      expect(await page.locator("#calibration circle.bin").count()).toBeGreaterThan(3);
      expect(await page.locator("#scores rect.bar").count()).toBeGreaterThan(5);
      expect(await text(page, "#interventions")).toContain("total");
      expect(await page.locator("#spend polyline").count()).toBe(1);
      expect(await text(page, "#workflow")).toMatch(/recorded\s+\d+/);
      expect(await text(page, '#inputs')).toMatch(/payment_method\s+0\.0 %\s+0\.50 %/);
      if (screenshots) await page.screenshot({ path: "docs/console.png", fullPage: true });

      // Shifted traffic: the drift alert arrives, and the drifted inputs' histograms appear.
      const shifted = readCsvRecords(300).map((c, i) => ({ ...c, customer_id: `s${i}`, tenure: 72, contract_type: "Month-to-month" }));
      await post(`${server.url}/batch-predict`, { customers: shifted });
      await page.waitForFunction(() => document.getElementById("alerts")?.textContent?.includes("feature_drift · tenure"), null, { timeout: 10_000 });
      expect(await page.locator("#events li.firing").count()).toBeGreaterThan(0);
      expect(await page.locator("#drift tr.drifted").count()).toBeGreaterThan(0);
      const figure = page.locator('#histograms figure[data-feature="tenure"]');
      expect(await figure.locator("rect.bar").count()).toBeGreaterThan(10);
      expect(await text(page, '#histograms figure[data-feature="tenure"]')).toContain("drifted");
      // A feature that did not drift can be pinned by clicking it.
      await page.locator('#drift tr[data-feature="monthly_charges"]').click();
      expect(await page.locator('#histograms figure[data-feature="monthly_charges"]').count()).toBe(1);
      if (screenshots) await page.screenshot({ path: "docs/console-drift.png", fullPage: true });
      mkdirSync("test-results", { recursive: true });
      await page.screenshot({ path: "test-results/console.png", fullPage: true });

      // The server restarts on the same port: the page reconnects and keeps what it had.
      const before = Number(await page.locator("#latency").getAttribute("data-points"));
      const port = server.port;
      await server.app.log.flushed();
      await server.close();
      await page.waitForFunction(() => document.getElementById("conn")?.textContent !== "live");
      server = await serve(dataDir, port);
      await page.waitForFunction(() => document.getElementById("conn")?.textContent === "live", null, { timeout: 15_000 });
      await expect.poll(async () => Number(await page.locator("#latency").getAttribute("data-points"))).toBeGreaterThan(before);
      await expect.poll(() => text(page, "#calstats")).toContain("labelled"); // windows rebuilt from the log
    } finally {
      await server.close();
    }
  }, 90_000);

  it("sends a key entered by the user on the WebSocket and on fetches", async () => {
    const server = await serve();
    try {
      const page = await open(server);
      const frames: string[] = [];
      const authorizations: (string | undefined)[] = [];
      page.on("websocket", (ws) => ws.on("framesent", (f) => frames.push(String(f.payload))));
      page.on("request", (r) => r.url().endsWith("/health") && authorizations.push(r.headers().authorization));
      await page.click("#keybtn");
      await page.fill("#key", "secret-key-1");
      await page.click('#keyform button[type="submit"]');
      await page.waitForFunction(() => document.getElementById("conn")?.textContent === "live");
      await expect.poll(() => frames.length).toBeGreaterThan(1);
      expect(JSON.parse(frames[0])).toEqual({ method: "connectionParams", data: { authorization: "Bearer secret-key-1" } });
      await expect.poll(() => authorizations).toContain("Bearer secret-key-1");
      expect(await page.evaluate(() => sessionStorage.getItem("churn-console-key"))).toBe("secret-key-1");
      // Subscriptions still work with connection parameters.
      await expect.poll(() => page.locator("#drift tr").count()).toBe(14);
    } finally {
      await server.close();
    }
  });
});
