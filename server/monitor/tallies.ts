// Counts the monitor keeps beside its windows: interventions and their spend since start, and
// per input field whether the live window's values were sent, imputed or an unknown category.
import type { MetricsSnapshot } from "../contract/monitoring.ts";
import { FIELD_IMPUTED, FIELD_UNKNOWN, fieldSource, type PredictionRecord } from "../contract/records.ts";

export class InterventionTally {
  private readonly by = new Map<string, { count: number; spend: number; expected_value: number }>();

  add(r: PredictionRecord): void {
    if (!r.should_intervene || !r.recommended_intervention) return;
    let t = this.by.get(r.recommended_intervention);
    if (!t) this.by.set(r.recommended_intervention, (t = { count: 0, spend: 0, expected_value: 0 }));
    t.count++;
    t.spend += r.cost ?? 0;
    t.expected_value += r.expected_value ?? 0;
  }

  summary(): MetricsSnapshot["interventions"] {
    const by_intervention = [...this.by].map(([intervention, t]) => ({ intervention, ...t })).sort((a, b) => a.intervention.localeCompare(b.intervention));
    return {
      count: by_intervention.reduce((s, t) => s + t.count, 0),
      spend: by_intervention.reduce((s, t) => s + t.spend, 0),
      by_intervention,
    };
  }
}

/**
 * Per field, how each of the last `size` requests' values came (`fieldSource`).
 */
export class FieldSources {
  private readonly columns = new Map<string, Uint8Array>();
  private next = 0;
  private count = 0;

  constructor(private readonly size: number) {}

  push(r: PredictionRecord): void {
    const slot = this.next;
    this.next = slot + 1 === this.size ? 0 : slot + 1;
    if (this.count < this.size) this.count++;
    for (const field in r.inputs) {
      let column = this.columns.get(field);
      if (!column) this.columns.set(field, (column = new Uint8Array(this.size)));
      column[slot] = fieldSource(r, field);
    }
  }

  rates(): MetricsSnapshot["inputs"] {
    return [...this.columns].map(([feature, column]) => {
      let imputed = 0;
      let unknown = 0;
      for (let i = 0; i < this.count; i++) {
        if (column[i] === FIELD_IMPUTED) imputed++;
        else if (column[i] === FIELD_UNKNOWN) unknown++;
      }
      const rate = (k: number) => (this.count ? k / this.count : null);
      return { feature, window: this.count, imputed_rate: rate(imputed), unknown_rate: rate(unknown) };
    });
  }
}
