// Server-side latency per operation in HDR histograms (microsecond resolution, 3 significant
// digits): since start, and over a sliding window kept as a ring of one-second histograms.
import * as hdr from "hdr-histogram-js";
import type { LatencySummary } from "../contract/monitoring.ts";

type Histogram = ReturnType<typeof hdr.build>;

const make = (): Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });


function summary(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50_ms: null, p95_ms: null, p99_ms: null, max_ms: null };
  const ms = (us: number) => us / 1000;
  return {
    count: h.totalCount,
    p50_ms: ms(h.getValueAtPercentile(50)),
    p95_ms: ms(h.getValueAtPercentile(95)),
    p99_ms: ms(h.getValueAtPercentile(99)),
    max_ms: ms(h.maxValue),
  };
}

/**
 * One operation's latency: since start, and over the last `windowS` seconds. The window is kept
 * as one histogram that every value is recorded into and from which each second's histogram is
 * subtracted when that second leaves the window: merging 60 histograms at every snapshot had
 * blocked the event loop for ~3 ms a second.
 */
class OperationLatency {
  readonly total = make();
  private readonly window = make();
  private readonly ring: Histogram[];
  private readonly stamps: number[];
  private current = -1;

  constructor(private readonly windowS: number) {
    this.ring = Array.from({ length: windowS }, make);
    this.stamps = new Array(windowS).fill(-1);
  }

  /** Drops from the window every second that has left it by `second`. */
  private advance(second: number): void {
    if (second <= this.current) return;
    this.current = second;
    for (let i = 0; i < this.windowS; i++) {
      if (this.stamps[i] !== -1 && this.stamps[i] <= second - this.windowS) {
        this.window.subtract(this.ring[i]);
        this.ring[i].reset();
        this.stamps[i] = -1;
      }
    }
  }

  record(ms: number, now: number): void {
    const us = Math.max(1, Math.round(ms * 1000));
    const second = Math.max(Math.floor(now / 1000), this.current);
    this.advance(second);
    const i = second % this.windowS;
    this.stamps[i] = second;
    this.ring[i].recordValue(us);
    this.window.recordValue(us);
    this.total.recordValue(us);
  }

  summary(now: number): LatencySummary {
    this.advance(Math.floor(now / 1000));
    return summary(this.window);
  }
}

export class LatencyTracker {
  private readonly ops = new Map<string, OperationLatency>();

  constructor(readonly windowS = 60) {}

  record(operation: string, ms: number, now = Date.now()): void {
    let op = this.ops.get(operation);
    if (!op) this.ops.set(operation, (op = new OperationLatency(this.windowS)));
    op.record(ms, now);
  }

  /** Per operation: the sliding window's summary, plus `since_start`. */
  snapshot(now = Date.now()): Record<string, LatencySummary & { since_start: LatencySummary }> {
    const out: Record<string, LatencySummary & { since_start: LatencySummary }> = {};
    for (const [name, op] of this.ops) out[name] = { ...op.summary(now), since_start: summary(op.total) };
    return out;
  }
}
