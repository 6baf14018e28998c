// The monitor's live windows, held column by column in typed arrays: no object per request
// survives into the old generation, so a busy server's heap stays flat and garbage collection
// stays short (per-request window objects had made old-space collections the largest part of
// /predict's p99).
import type { Reference } from "../contract/bundle.ts";
import type { PredictionRecord } from "../contract/records.ts";

/** Slots of a fixed-size ring: where the next value goes, and how many are held. */
class RingSlots {
  count = 0;
  private next = 0;
  constructor(readonly size: number) {}
  /** The slot for a new value (the oldest one's once the ring is full). */
  take(): number {
    const slot = this.next;
    this.next = slot + 1 === this.size ? 0 : slot + 1;
    if (this.count < this.size) this.count++;
    return slot;
  }
}

/** The most recent numbers (order is not kept: the statistics do not need it). */
export class NumberWindow {
  private readonly slots: RingSlots;
  private readonly data: Float64Array;
  constructor(size: number) {
    this.slots = new RingSlots(size);
    this.data = new Float64Array(size);
  }
  push(v: number): void {
    this.data[this.slots.take()] = v;
  }
  values(): Float64Array {
    return this.data.subarray(0, this.slots.count);
  }
}

/** Labelled predictions for calibration: probability and outcome, oldest first until it wraps. */
export class LabelledWindow {
  private readonly slots: RingSlots;
  private readonly p: Float64Array;
  private readonly y: Uint8Array;
  constructor(size: number) {
    this.slots = new RingSlots(size);
    this.p = new Float64Array(size);
    this.y = new Uint8Array(size);
  }
  push(p: number, churned: boolean): void {
    const s = this.slots.take();
    this.p[s] = p;
    this.y[s] = churned ? 1 : 0;
  }
  scores(): Float64Array {
    return this.p.subarray(0, this.slots.count);
  }
  labels(): Uint8Array {
    return this.y.subarray(0, this.slots.count);
  }
}

/**
 * The inputs of the last `size` requests, one column per reference feature: numbers (NaN where
 * the caller did not send one) and category codes (-1 where not sent or not a reference category).
 * Imputed values are left out: drift compares what callers send with what training saw.
 */
export class InputWindow {
  private readonly slots: RingSlots;
  // Arrays rather than maps: push runs once per request and iterating a map allocates.
  private numeric: { feature: string; values: Float64Array }[] = [];
  private categorical: { feature: string; categories: string[]; codes: Int16Array }[] = [];

  constructor(readonly size: number) {
    this.slots = new RingSlots(size);
  }

  /** Columns for a reference's features; a column that stays the same keeps its values. */
  configure(reference: Reference): void {
    const oldNumeric = this.numeric;
    const oldCategorical = this.categorical;
    this.numeric = Object.keys(reference.numeric).map((feature) => oldNumeric.find((c) => c.feature === feature) ?? { feature, values: new Float64Array(this.size).fill(NaN) });
    this.categorical = Object.entries(reference.categories).map(([feature, counts]) => {
      const cats = Object.keys(counts);
      const old = oldCategorical.find((c) => c.feature === feature);
      const same = old !== undefined && old.categories.join("\u0000") === cats.join("\u0000");
      return same ? old : { feature, categories: cats, codes: new Int16Array(this.size).fill(-1) };
    });
  }

  push(values: PredictionRecord["inputs"], imputed: string[]): void {
    const s = this.slots.take();
    for (const { feature, values: column } of this.numeric) {
      const v = values[feature];
      column[s] = typeof v === "number" && !imputed.includes(feature) ? v : NaN;
    }
    for (const { feature, categories, codes } of this.categorical) {
      const v = values[feature];
      codes[s] = typeof v === "string" && !imputed.includes(feature) ? categories.indexOf(v) : -1;
    }
  }

  /** The sent values of a numeric feature in the window, sorted ascending (a fresh array). */
  sortedNumbers(feature: string): Float64Array {
    const column = this.numeric.find((c) => c.feature === feature)?.values.subarray(0, this.slots.count);
    // NaN (not sent) sorts last in a typed array: the sent values are the prefix.
    const values = column ? Float64Array.from(column).sort() : new Float64Array(0);
    let n = values.length;
    while (n > 0 && Number.isNaN(values[n - 1])) n--;
    return values.subarray(0, n);
  }

  /** Counts of each of the feature's reference categories in the window, in their order. */
  counts(feature: string): number[] {
    const column = this.categorical.find((c) => c.feature === feature);
    if (!column) return [];
    const counts = column.categories.map(() => 0);
    for (let i = 0; i < this.slots.count; i++) if (column.codes[i] >= 0) counts[column.codes[i]]++;
    return counts;
  }
}
