// Per-request Prometheus series counted in plain numbers, formatted by prom-client only at a scrape.
// prom-client's own `observe` and `inc` check and hash their labels on every call (an object, a
// sort and a joined string each time); here an update is a map lookup by the label's value and an
// addition. Measured on REST /predict at 2,000 req/s: bench/RESULTS.md, sixth round.
import { Counter, type Metric, type MetricValueWithName, type Registry } from "prom-client";

interface Series {
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram with at most one label, counted here. It is registered as what prom-client's
 * registry reads of a metric (name, help, type, aggregator, `get` in the public shape of its
 * series), so /metrics and the workers' aggregation format it like prom-client's own.
 */
export class CountedHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Series>();
  private readonly bounds: number[];

  constructor(readonly name: string, readonly help: string, private readonly label: string | null, buckets: number[], registry: Registry) {
    this.bounds = [...buckets].sort((a, b) => a - b);
    // An unlabelled histogram shows its zero counts from the start, as prom-client's does.
    if (!label) this.start("");
    registry.registerMetric(this as unknown as Metric);
  }

  /** One observation, under `labelValue` (ignored by an unlabelled histogram). */
  record(value: number, labelValue = ""): void {
    const key = this.label ? labelValue : "";
    const s = this.series.get(key) ?? this.start(key);
    // Into the first bucket whose bound it does not exceed (none: only +Inf, which is the count).
    let i = 0;
    while (i < this.bounds.length && !(value <= this.bounds[i])) i++;
    if (i < this.bounds.length) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** No series at all (prom-client's reset leaves none either, labelled or not). */
  reset(): void {
    this.series.clear();
  }

  /** The series as prom-client's `get` gives them: cumulative buckets, then +Inf, sum and count. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValueWithName<string>[] }> {
    const values: MetricValueWithName<string>[] = [];
    for (const [labelValue, s] of this.series) {
      const labels = this.label ? { [this.label]: labelValue } : {};
      let below = 0;
      this.bounds.forEach((le, i) => {
        below += s.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: below });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", ...labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  private start(labelValue: string): Series {
    const s = { counts: this.bounds.map(() => 0), sum: 0, count: 0 };
    this.series.set(labelValue, s);
    return s;
  }
}

/**
 * A counter with at most one label whose increments are summed here and handed to prom-client at a
 * scrape; the returned function adds `n` under `labelValue` (ignored by an unlabelled counter).
 */
export function countedCounter(name: string, help: string, label: string | null, registry: Registry): (n?: number, labelValue?: string) => void {
  const totals = new Map<string, number>();
  new Counter({
    name, help, labelNames: label ? [label] : [], registers: [registry],
    collect() {
      this.reset();
      for (const [value, n] of totals) {
        if (label) this.inc({ [label]: value }, n);
        else this.inc(n);
      }
    },
  });
  return (n = 1, labelValue = "") => {
    const key = label ? labelValue : "";
    totals.set(key, (totals.get(key) ?? 0) + n);
  };
}
