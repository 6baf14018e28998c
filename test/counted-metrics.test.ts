// The series counted outside prom-client (server/monitor/counted.ts) against prom-client's own
// Histogram and Counter fed the same updates: the same /metrics text, the same JSON the workers'
// aggregation reads, and the same after a reset.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { countedCounter, CountedHistogram } from "../server/monitor/counted.ts";

const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
const value = fc.oneof(fc.constantFrom(...BUCKETS, 0, 10), fc.double({ min: 0, max: 10, noNaN: true }));
const labelValue = fc.constantFrom("predict", "batchPredict", "health", 'odd "quoted" \\ label');

describe("counted series", () => {
  it("format as prom-client's histograms and counters do (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(value, labelValue), { maxLength: 60 }), fc.boolean(), async (updates, labelled) => {
        const ours = new Registry();
        const theirs = new Registry();
        const label = labelled ? "operation" : null;
        const labelNames = label ? [label] : [];
        const h = new CountedHistogram("h_seconds", "help", label, BUCKETS, ours);
        const ph = new Histogram({ name: "h_seconds", help: "help", labelNames, buckets: BUCKETS, registers: [theirs] });
        const c = countedCounter("c_total", "help", label, ours);
        const pc = new Counter({ name: "c_total", help: "help", labelNames, registers: [theirs] });
        for (const [v, l] of updates) {
          h.record(v, l);
          c(v, l);
          if (label) {
            ph.observe({ [label]: l }, v);
            pc.inc({ [label]: l }, v);
          } else {
            ph.observe(v);
            pc.inc(v);
          }
        }
        expect(await ours.metrics()).toBe(await theirs.metrics());
        // prom-client's own carry `exemplar: null` (exemplars are off); nothing reads it then.
        const json = async (r: Registry) => JSON.parse(JSON.stringify(await r.getMetricsAsJSON(), (k, v) => (k === "exemplar" ? undefined : v)));
        expect(await json(ours)).toEqual(await json(theirs));
        h.reset();
        ph.reset();
        expect(await ours.getSingleMetricAsString("h_seconds")).toBe(await theirs.getSingleMetricAsString("h_seconds"));
      }),
      { numRuns: 200, seed: 20261129 },
    );
  });
});
