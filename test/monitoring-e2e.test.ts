// Monitoring through the real server: the metrics and alerts subscriptions over WebSocket with the
// typed client, outcomes over REST, Prometheus text, and windows rebuilt from the log on restart.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createChurnClient, type ChurnClient } from "churn-intervention/client";
import type { RunningServer } from "../server/http/server.ts";
import { readCsvRecords, sampleRecords } from "./helpers/customers.ts";
import { post, testServer } from "./helpers/server.ts";

const dataDir = mkdtempSync(join(tmpdir(), "monitoring-"));
let server: RunningServer;
let client: ChurnClient;

beforeAll(async () => {
  server = await testServer(["--data-dir", dataDir]);
  client = createChurnClient(server.url, { WebSocket });
});
afterAll(async () => {
  client.close();
  await server.close();
});

describe("monitoring over the API", () => {
  it("streams snapshots over WebSocket at the asked interval", async () => {
    await client.batchPredict.mutate({ customers: readCsvRecords(300) });
    const snaps: any[] = [];
    await new Promise<void>((resolve, reject) => {
      const sub = client.monitoring.metrics.subscribe({ interval_ms: 100 }, {
        onData: (s) => {
          snaps.push(s);
          if (snaps.length === 3) {
            sub.unsubscribe();
            resolve();
          }
        },
        onError: reject,
      });
    });
    const s = snaps[2];
    expect(s.model_version).toBe("churn-default@2026.11.0");
    expect(s.latency.batchPredict.count).toBeGreaterThanOrEqual(1);
    expect(s.feature_drift.find((d: any) => d.feature === "tenure").window).toBe(300);
    expect(s.feature_drift.find((d: any) => d.feature === "tenure").p_value).toBeGreaterThan(0.01);
    expect(s.calibration.status).toBe("insufficient data");
    expect(Date.parse(snaps[2].at) - Date.parse(snaps[0].at)).toBeGreaterThanOrEqual(150);
  });

  it("refuses an interval out of range", async () => {
    await expect(
      new Promise((resolve, reject) => client.monitoring.metrics.subscribe({ interval_ms: 5 }, { onData: resolve, onError: reject })),
    ).rejects.toMatchObject({ data: { code: "BAD_REQUEST" } });
  });

  it("joins outcomes by prediction id or customer and reports what it could not join", async () => {
    const customers = readCsvRecords(500);
    const { results } = await client.batchPredict.mutate({ customers });
    const truth = sampleRecords().slice(0, 500);
    const outcomes = results.map((r, i) => ({ prediction_id: r.prediction_id, churned: truth[i].churned === "1" }));
    const { status, body } = await post(`${server.url}/outcomes`, { outcomes: [...outcomes, { prediction_id: "nope", churned: true }] });
    expect(status).toBe(200);
    expect(body.matched).toHaveLength(500);
    expect(body.unmatched).toEqual([{ index: 500, reason: "no prediction nope in the log's retention" }]);
    // By customer it is the customer's latest prediction, which already has its outcome: a conflict, not a second count.
    const byCustomer = await client.recordOutcome.mutate({ customer_id: customers[0].customer_id, churned: false });
    expect(byCustomer.matched).toEqual([]);
    expect(byCustomer.conflicts).toEqual([{ index: 0, prediction_id: results[0].prediction_id, reason: "the prediction already has an outcome" }]);
    const bad = await post(`${server.url}/outcomes`, { churned: "yes" });
    expect(bad.status).toBe(400);
  });

  it("exposes the same numbers in Prometheus format with a 0.2 s bucket", async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/churn_request_duration_seconds_bucket\{le="0.2",operation="batchPredict"\} \d+/);
    expect(text).toMatch(/churn_requests_total\{operation="batchPredict"\} \d+/);
    expect(text).toMatch(/churn_predictions_total \d+/);
    expect(text).toMatch(/churn_feature_drift_pvalue\{feature="tenure",test="ks"\} [\d.e-]+/);
    expect(text).toMatch(/churn_workflow_entries\{state="recorded"\} \d+/);
    expect(text).toMatch(/churn_log_durable_records \d+/);
  });

  it("rebuilds the monitoring windows from the log after a restart", async () => {
    const before = (await client.health.query()) && (await fetchSnapshot(client));
    await server.app.log.flushed();
    await server.close();
    server = await testServer(["--data-dir", dataDir]);
    client.close();
    client = createChurnClient(server.url, { WebSocket });
    const after = await fetchSnapshot(client);
    expect(after.calibration.labelled).toBe(before.calibration.labelled);
    expect(after.feature_drift.find((d: any) => d.feature === "tenure").window).toBe(before.feature_drift.find((d: any) => d.feature === "tenure").window);
  });
});

function fetchSnapshot(c: ChurnClient): Promise<any> {
  return new Promise((resolve, reject) => {
    const sub = c.monitoring.metrics.subscribe({ interval_ms: 1000 }, {
      onData: (s) => {
        sub.unsubscribe();
        resolve(s);
      },
      onError: reject,
    });
  });
}

describe("alerts without anyone watching the metrics", () => {
  it("fire for a subscriber to alerts alone: the server evaluates the monitor every second", async () => {
    const own = await testServer();
    const c = createChurnClient(own.url, { WebSocket });
    try {
      const firing = new Promise<any>((resolve, reject) => {
        const sub = c.monitoring.alerts.subscribe({}, {
          onData: ({ data }) => {
            if (data.kind === "feature_drift" && data.subject === "tenure") {
              sub.unsubscribe();
              resolve(data);
            }
          },
          onError: reject,
        });
      });
      // Long-tenure customers only: far from the training distribution of tenure.
      const customers = readCsvRecords(150).map((r) => Object.assign(r, { tenure: 72 }));
      await c.batchPredict.mutate({ customers });
      const event = await Promise.race([firing, new Promise((_, reject) => setTimeout(() => reject(new Error("no drift alert within 5 s")), 5000))]);
      expect(event).toMatchObject({ state: "firing", kind: "feature_drift", subject: "tenure", threshold: 0.01 });
      expect((event as { value: number }).value).toBeLessThan(0.01);
    } finally {
      c.close();
      await own.close();
    }
  });
});
