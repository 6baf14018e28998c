// Per-customer state as numbers: each customer id is given a dense number once (one map entry per
// customer), and what is kept about customers (their latest prediction, when each intervention
// was last triggered) lives in typed-array columns indexed by it. A service that meets a new
// customer with every request then grows one map and a few arrays, instead of objects per
// customer that the old-generation collector would have to trace.

export class CustomerTable {
  private readonly numbers = new Map<string, number>();

  /** The customer's number, given on first sight. */
  numberOf(customerId: string): number {
    let n = this.numbers.get(customerId);
    if (n === undefined) this.numbers.set(customerId, (n = this.numbers.size));
    return n;
  }

  /** The customer's number, if the customer has been seen. */
  find(customerId: string): number | undefined {
    return this.numbers.get(customerId);
  }
}

/** `values` with room for `length` numbers: the same array, or a copy of its first `used` in one at least twice as long. */
export function growTo(values: Float64Array<ArrayBuffer>, length: number, used = values.length, fill = NaN): Float64Array<ArrayBuffer> {
  if (length <= values.length) return values;
  const grown = new Float64Array(Math.max(length, values.length * 2)).fill(fill);
  grown.set(values.subarray(0, used));
  return grown;
}

/** A number per customer (by table number), growing as customers come; NaN where none is known. */
export class CustomerColumn {
  private values = new Float64Array(1024).fill(NaN);

  get(customer: number | undefined): number | undefined {
    if (customer === undefined || customer >= this.values.length) return undefined;
    const v = this.values[customer];
    return Number.isNaN(v) ? undefined : v;
  }

  set(customer: number, value: number): void {
    this.values = growTo(this.values, customer + 1);
    this.values[customer] = value;
  }

  /** Forgets every value below `limit`. */
  clearBelow(limit: number): void {
    for (let i = 0; i < this.values.length; i++) if (this.values[i] < limit) this.values[i] = NaN;
  }
}
