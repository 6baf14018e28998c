// The latency window kept incrementally (values recorded into it, each second subtracted when it
// leaves) equals a histogram built afresh from the values still inside the window.
import fc from "fast-check";
import * as hdr from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import { LatencyTracker } from "../server/monitor/latency.ts";

const WINDOW_S = 60;
const fresh = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });

/** Seconds move forward by 0..90 between values (long gaps empty the window). */
const timeline = fc.array(fc.tuple(fc.integer({ min: 0, max: 90 }), fc.double({ min: 0.001, max: 5000, noNaN: true })), { minLength: 1, maxLength: 300 });

describe("latency window", () => {
  it("equals a fresh histogram of the values of the last 60 seconds (property)", () => {
    fc.assert(
      fc.property(timeline, fc.integer({ min: 0, max: 120 }), (steps, wait) => {
        const tracker = new LatencyTracker(WINDOW_S);
        let second = 1_000_000;
        const recorded: { second: number; us: number }[] = [];
        for (const [gap, ms] of steps) {
          second += gap;
          tracker.record("predict", ms, second * 1000 + 500);
          recorded.push({ second, us: Math.max(1, Math.round(ms * 1000)) });
        }
        const now = second + wait;
        const inWindow = recorded.filter((r) => r.second > now - WINDOW_S);
        const want = fresh();
        for (const r of inWindow) want.recordValue(r.us);
        const got = tracker.snapshot(now * 1000 + 999).predict;
        expect(got.count).toBe(inWindow.length);
        expect(got.since_start.count).toBe(recorded.length);
        if (inWindow.length === 0) {
          expect(got).toMatchObject({ p50_ms: null, p99_ms: null, max_ms: null });
        } else {
          for (const [key, q] of [["p50_ms", 50], ["p95_ms", 95], ["p99_ms", 99]] as const) expect(got[key]).toBe(want.getValueAtPercentile(q) / 1000);
          // After a subtraction the maximum is known to the histogram's precision (3 digits).
          expect(Math.abs(got.max_ms! - want.maxValue / 1000)).toBeLessThanOrEqual((want.maxValue / 1000) * 1e-3);
        }
      }),
      { numRuns: 300 },
    );
  });
});
