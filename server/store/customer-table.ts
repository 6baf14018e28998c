// Per-customer state as numbers: each customer id is given a dense number once (one map entry per
// customer), and what is kept about customers (their latest prediction, when each intervention
// was last triggered) lives in typed-array columns indexed by it. A service that meets a new
// customer with every request then grows one map and a few arrays, instead of objects per
// customer that the old-generation collector would have to trace. A customer nothing is kept
// about any more is forgotten by a sweep, and the number is given again: the table is bounded by
// the customers of the retention windows, not by every customer ever seen.

/** Maps the ids are spread over (a power of two). */
const SHARDS = 64;
/** Customers visited between two turns of the event loop (~1-2 ms of work). */
const SLICE = 8192;

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
  /** Each number's customer id; undefined once forgotten. */
  private readonly ids: (string | undefined)[] = [];
  /** Forgotten customers' numbers, given again before new ones. */
  private readonly free: number[] = [];
  /** The columns a forgotten customer's values are cleared from. */
  private readonly columns: CustomerColumn[] = [];

  /** Customers known now. */
  get size(): number {
    return this.ids.length - this.free.length;
  }

  /** A new column of numbers per customer, cleared where a customer is forgotten. */
  column(): CustomerColumn {
    const column = new CustomerColumn();
    this.columns.push(column);
    return column;
  }

  /** The customer's number, given on first sight: a forgotten customer's, else the next (0, 1, 2, ...). */
  numberOf(customerId: string): number {
    const shard = this.shards[shardOf(customerId)];
    let n = shard.get(customerId);
    if (n === undefined) {
      n = this.free.pop() ?? this.ids.length;
      shard.set(customerId, n);
      this.ids[n] = customerId;
    }
    return n;
  }

  /** The customer's number, if the customer is known. */
  find(customerId: string): number | undefined {
    return this.shards[shardOf(customerId)].get(customerId);
  }

  /** The id of a known customer's number. */
  idOf(customer: number): string | undefined {
    return this.ids[customer];
  }

  /**
   * Visits every known customer, a slice of numbers per turn of the event loop: a million
   * customers take tens of ms, which must not stall the requests. A customer numbered meanwhile
   * may or may not be visited.
   */
  async visit(fn: (customer: number) => void, slice = SLICE): Promise<void> {
    for (let n = 0; n < this.ids.length; n++) {
      if (n % slice === slice - 1) await new Promise((resolve) => setImmediate(resolve));
      if (this.ids[n] !== undefined) fn(n);
    }
  }

  /** Forgets every customer `keep` refuses: the id, its number and its values in every column. Resolves with how many. */
  async sweep(keep: (customer: number) => boolean, slice = SLICE): Promise<number> {
    let forgotten = 0;
    await this.visit((n) => {
      if (keep(n)) return;
      const id = this.ids[n]!;
      this.shards[shardOf(id)].delete(id);
      this.ids[n] = undefined;
      for (const column of this.columns) column.clear(n);
      this.free.push(n);
      forgotten++;
    }, slice);
    return forgotten;
  }
}

/** `values` with room for `length` numbers: the same array, or a copy of its first `used` in one at least twice as long. */
export function growTo(values: Float64Array<ArrayBuffer>, length: number, used = values.length, fill = NaN): Float64Array<ArrayBuffer> {
  if (length <= values.length) return values;
  const grown = new Float64Array(Math.max(length, values.length * 2)).fill(fill);
  grown.set(values.subarray(0, used));
  return grown;
}

/** A number per customer (by table number), growing as customers come; NaN where none is known. Made by `CustomerTable.column()`. */
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

  /** Forgets the customer's value. */
  clear(customer: number): void {
    if (customer < this.values.length) this.values[customer] = NaN;
  }

  /** Forgets every value below `limit`. */
  clearBelow(limit: number): void {
    for (let i = 0; i < this.values.length; i++) if (this.values[i] < limit) this.values[i] = NaN;
  }
}
