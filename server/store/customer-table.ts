// Per-customer state as numbers: each customer id is given a dense number once (one map entry per
// customer), and what is kept about customers (their latest prediction, when each intervention
// was last triggered) lives in typed-array columns indexed by it. A service that meets a new
// customer with every request then grows one map and a few arrays, instead of objects per
// customer that the old-generation collector would have to trace.

/** Maps the ids are spread over (a power of two). */
const SHARDS = 64;

/** The shard of an id: a hash of its length and last four characters (where ids differ most). */
function shardOf(id: string): number {
  let h = id.length;
  for (let i = Math.max(0, id.length - 4); i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return (h >>> 15) & (SHARDS - 1);
}

/**
 * The ids are spread over 64 maps: a `Map` grows by rehashing every entry at once, which at a
 * million customers blocks the event loop for ~60 ms (measured); a shard holds a 64th of them.
 */
export class CustomerTable {
  private readonly shards = Array.from({ length: SHARDS }, () => new Map<string, number>());
  private count = 0;

  /** The customer's number, given on first sight (0, 1, 2, ... in that order). */
  numberOf(customerId: string): number {
    const shard = this.shards[shardOf(customerId)];
    let n = shard.get(customerId);
    if (n === undefined) shard.set(customerId, (n = this.count++));
    return n;
  }

  /** The customer's number, if the customer has been seen. */
  find(customerId: string): number | undefined {
    return this.shards[shardOf(customerId)].get(customerId);
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
