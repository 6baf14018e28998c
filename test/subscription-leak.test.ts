// The monitoring subscriptions over many intervals: the abort signal's listeners and the heap stay
// flat (each wait used to leave an abort listener behind until Node warned
// MaxListenersExceededWarning).
import { getEventListeners } from "node:events";
import { expect, it } from "vitest";
import { appRouter } from "../server/api/router.ts";
import type { ApiContext } from "../server/api/trpc.ts";
import type { AlertEvent, MetricsSnapshot } from "../server/contract/monitoring.ts";
import { Monitor } from "../server/monitor/monitor.ts";

function context(monitor: Monitor): ApiContext {
  return { service: {} as ApiContext["service"], monitoring: monitor, observeLatency: () => {} };
}

it("metrics at 100 ms: no listener or heap growth over 40 intervals", async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on("warning", onWarning);
  const abort = new AbortController();
  const caller = appRouter.createCaller(context(new Monitor()), { signal: abort.signal });
  const stream = (await caller.monitoring.metrics({ interval_ms: 100 })) as AsyncIterable<MetricsSnapshot>;
  const listeners: number[] = [];
  const heap: number[] = [];
  let n = 0;
  for await (const _ of stream) {
    listeners.push(getEventListeners(abort.signal, "abort").length);
    if (n === 10) heap.push(process.memoryUsage().heapUsed);
    if (++n === 40) break;
  }
  heap.push(process.memoryUsage().heapUsed);
  abort.abort();
  process.off("warning", onWarning);
  expect(Math.max(...listeners)).toBe(listeners[1]);
  expect(Math.max(...listeners)).toBeLessThanOrEqual(3);
  expect(warnings).not.toContain("MaxListenersExceededWarning");
  // 30 intervals of a leak (a listener, a closure and a promise each) would not show in bytes alone; the bound catches a runaway.
  expect(heap[1] - heap[0]).toBeLessThan(8 * 1024 * 1024);
}, 20_000);

it("alerts: waiting for the next event leaves no listener behind", async () => {
  const monitor = new Monitor();
  const abort = new AbortController();
  const caller = appRouter.createCaller(context(monitor), { signal: abort.signal });
  const stream = (await caller.monitoring.alerts({})) as AsyncIterable<{ data: AlertEvent }>;
  const it = stream[Symbol.asyncIterator]();
  const counts: number[] = [];
  for (let i = 0; i < 200; i++) {
    const next = it.next();
    monitor.alerts.set("latency", "predict", i % 2 === 0, 300, 200);
    await next;
    counts.push(getEventListeners(abort.signal, "abort").length);
  }
  abort.abort();
  await it.return?.();
  expect(Math.max(...counts)).toBe(counts[0]);
  expect(Math.max(...counts)).toBeLessThanOrEqual(3);
});
