// Every retained event row of every customer, in memory, without an object per event: rows live
// in fixed-size chunks of one Float64Array each (4 numbers a row: at, value, id hash, link), and
// each customer's rows form a list sorted by (at, value) through the link, whose head and tail
// sit in per-customer columns. 32 bytes a row; one cache line holds two rows, so reading a
// customer costs one memory access per row. Chunks are never copied when the arena grows (no
// doubling peak), and rows freed by compaction are reused first.
//
// link = kind * 2^32 + (next row + 1), 0 ending the list.
import { RowBuffer } from "../../profiles/rows.ts";

const CHUNK_BITS = 16;
const CHUNK_ROWS = 1 << CHUNK_BITS;
const ROW_MASK = CHUNK_ROWS - 1;
const LINK = 2 ** 32;
/** Customers with more rows than this get a Set of their id hashes, so dedupe stays O(1) for them. */
const INDEXED_ABOVE = 64;
/** The hash of rows that stand for no single event (compaction summaries). */
export const NO_HASH = -1;

function grow(a: Uint32Array<ArrayBuffer>, n: number): Uint32Array<ArrayBuffer> {
  if (n <= a.length) return a;
  const b = new Uint32Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

export class EventArena {
  private chunks: Float64Array[] = [];
  private used = 0;
  private freeHead = 0;
  private freeCount = 0;
  /** Per customer: first and last row + 1 (0: none), and the number of rows. */
  private head = new Uint32Array(1024);
  private tail = new Uint32Array(1024);
  private count = new Uint32Array(1024);
  private readonly indexed = new Map<number, Set<number>>();

  get rows(): number {
    return this.used - this.freeCount;
  }

  get bytes(): number {
    return this.chunks.length * CHUNK_ROWS * 32 + this.head.byteLength * 3;
  }

  rowCount(customer: number): number {
    return customer < this.count.length ? this.count[customer] : 0;
  }

  private allocate(): number {
    if (this.freeHead) {
      const r = this.freeHead - 1;
      this.freeHead = this.chunks[r >>> CHUNK_BITS][((r & ROW_MASK) << 2) + 3];
      this.freeCount--;
      return r;
    }
    if ((this.used & ROW_MASK) === 0) this.chunks.push(new Float64Array(CHUNK_ROWS * 4));
    return this.used++;
  }

  private release(r: number): void {
    this.chunks[r >>> CHUNK_BITS][((r & ROW_MASK) << 2) + 3] = this.freeHead;
    this.freeHead = r + 1;
    this.freeCount++;
  }

  /** Whether the customer has a row with this id hash. */
  has(customer: number, hash: number): boolean {
    const set = this.indexed.get(customer);
    if (set) return set.has(hash);
    if (customer >= this.head.length) return false;
    for (let r = this.head[customer]; r; ) {
      const c = this.chunks[(r - 1) >>> CHUNK_BITS];
      const o = ((r - 1) & ROW_MASK) << 2;
      if (c[o + 2] === hash) return true;
      r = c[o + 3] % LINK;
    }
    return false;
  }

  /** Adds a row in (at, value) order. */
  insert(customer: number, kind: number, at: number, value: number, hash: number): void {
    if (customer >= this.head.length) {
      this.head = grow(this.head, customer + 1);
      this.tail = grow(this.tail, customer + 1);
      this.count = grow(this.count, customer + 1);
    }
    const r = this.allocate();
    const c = this.chunks[r >>> CHUNK_BITS];
    const o = (r & ROW_MASK) << 2;
    c[o] = at;
    c[o + 1] = value;
    c[o + 2] = hash;
    const last = this.tail[customer];
    if (!last || !this.before(r, last - 1)) {
      // The common case, events arriving in order: append.
      c[o + 3] = kind * LINK;
      if (last) this.setNext(last - 1, r + 1);
      else this.head[customer] = r + 1;
      this.tail[customer] = r + 1;
    } else {
      let prev = 0;
      let cur = this.head[customer];
      while (cur && !this.before(r, cur - 1)) {
        prev = cur;
        cur = this.next(cur - 1);
      }
      c[o + 3] = kind * LINK + cur;
      if (prev) this.setNext(prev - 1, r + 1);
      else this.head[customer] = r + 1;
    }
    const n = ++this.count[customer];
    const set = this.indexed.get(customer);
    if (set) set.add(hash);
    else if (n > INDEXED_ABOVE) this.index(customer);
  }

  /** Copies the customer's rows into `out` (cleared first). */
  read(customer: number, out: RowBuffer): void {
    out.clear();
    if (customer >= this.head.length) return;
    for (let r = this.head[customer]; r; ) {
      const c = this.chunks[(r - 1) >>> CHUNK_BITS];
      const o = ((r - 1) & ROW_MASK) << 2;
      const link = c[o + 3];
      out.push(Math.floor(link / LINK), c[o], c[o + 1]);
      r = link % LINK;
    }
  }

  /**
   * Takes the customer's leading rows with `at < before` out of the list, into `out` (cleared
   * first), freeing them; the caller puts back what stands for them.
   */
  takeBefore(customer: number, before: number, out: RowBuffer): void {
    out.clear();
    if (customer >= this.head.length) return;
    let r = this.head[customer];
    while (r) {
      const c = this.chunks[(r - 1) >>> CHUNK_BITS];
      const o = ((r - 1) & ROW_MASK) << 2;
      if (c[o] >= before) break;
      const link = c[o + 3];
      out.push(Math.floor(link / LINK), c[o], c[o + 1]);
      this.release(r - 1);
      r = link % LINK;
    }
    if (out.length === 0) return;
    this.head[customer] = r;
    if (!r) this.tail[customer] = 0;
    this.count[customer] -= out.length;
    if (this.indexed.delete(customer) && this.count[customer] > INDEXED_ABOVE) this.index(customer);
  }

  /** Visits the customer's rows: kind, at, value, id hash. */
  forEach(customer: number, visit: (kind: number, at: number, value: number, hash: number) => void): void {
    if (customer >= this.head.length) return;
    for (let r = this.head[customer]; r; ) {
      const c = this.chunks[(r - 1) >>> CHUNK_BITS];
      const o = ((r - 1) & ROW_MASK) << 2;
      const link = c[o + 3];
      visit(Math.floor(link / LINK), c[o], c[o + 1], c[o + 2]);
      r = link % LINK;
    }
  }

  private index(customer: number): void {
    const set = new Set<number>();
    this.forEach(customer, (_k, _a, _v, hash) => set.add(hash));
    this.indexed.set(customer, set);
  }

  /** Whether row a sorts strictly before row b. */
  private before(a: number, b: number): boolean {
    const ca = this.chunks[a >>> CHUNK_BITS];
    const oa = (a & ROW_MASK) << 2;
    const cb = this.chunks[b >>> CHUNK_BITS];
    const ob = (b & ROW_MASK) << 2;
    return ca[oa] < cb[ob] || (ca[oa] === cb[ob] && ca[oa + 1] < cb[ob + 1]);
  }

  private next(r: number): number {
    return this.chunks[r >>> CHUNK_BITS][((r & ROW_MASK) << 2) + 3] % LINK;
  }

  private setNext(r: number, next: number): void {
    const c = this.chunks[r >>> CHUNK_BITS];
    const o = ((r & ROW_MASK) << 2) + 3;
    c[o] = Math.floor(c[o] / LINK) * LINK + next;
  }
}
