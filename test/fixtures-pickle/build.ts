// Builds pickles byte by byte for the reader's tests: each method appends one opcode with its
// argument encoded as Python's pickle module writes it.
export class PickleBuilder {
  private readonly out: number[] = [];

  constructor(protocol = 4) {
    this.op(0x80, protocol);
  }

  /** Raw bytes, for opcodes written out by hand. */
  op(...bytes: number[]): this {
    for (const b of bytes) this.out.push(b);
    return this;
  }

  u32(n: number): this {
    return this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }

  u64(n: bigint): this {
    for (let i = 0n; i < 8n; i++) this.out.push(Number((n >> (8n * i)) & 0xffn));
    return this;
  }

  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.out.push(bytes[i]);
    return this;
  }

  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return b.length < 256 ? this.op(0x8c, b.length).raw(b) : this.op(0x58).u32(b.length).raw(b);
  }

  bytes(b: ArrayLike<number>): this {
    return b.length < 256 ? this.op(0x43, b.length).raw(b) : this.op(0x42).u32(b.length).raw(b);
  }

  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    return this.op(0x4a).u32(n >>> 0);
  }

  float(x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.op(0x47).raw(b);
  }

  /** STACK_GLOBAL (protocol 4) or GLOBAL (text, protocols 2 and 3). */
  global(module: string, name: string, text = false): this {
    if (text) return this.op(0x63).raw(new TextEncoder().encode(`${module}\n${name}\n`));
    return this.str(module).str(name).op(0x93);
  }

  mark(): this {
    return this.op(0x28);
  }
  none(): this {
    return this.op(0x4e);
  }
  bool(v: boolean): this {
    return this.op(v ? 0x88 : 0x89);
  }
  emptyList(): this {
    return this.op(0x5d);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  tuple(): this {
    return this.op(0x74);
  }
  tuple1(): this {
    return this.op(0x85);
  }
  tuple2(): this {
    return this.op(0x86);
  }
  tuple3(): this {
    return this.op(0x87);
  }
  append(): this {
    return this.op(0x61);
  }
  appends(): this {
    return this.op(0x65);
  }
  setitem(): this {
    return this.op(0x73);
  }
  setitems(): this {
    return this.op(0x75);
  }
  memoize(): this {
    return this.op(0x94);
  }
  put(i: number): this {
    return i < 256 ? this.op(0x71, i) : this.op(0x72).u32(i);
  }
  get(i: number): this {
    return i < 256 ? this.op(0x68, i) : this.op(0x6a).u32(i);
  }
  reduce(): this {
    return this.op(0x52);
  }
  newobj(): this {
    return this.op(0x81);
  }
  build(): this {
    return this.op(0x62);
  }
  stop(): Uint8Array {
    return this.op(0x2e).done();
  }
  /** The bytes so far, without STOP (for truncated or unfinished inputs). */
  done(): Uint8Array {
    return Uint8Array.from(this.out);
  }

  /** numpy.dtype(code, False, True) with its BUILD state. */
  dtype(code: string, byteorder = "<"): this {
    return this.global("numpy", "dtype").str(code).bool(false).bool(true).tuple3().reduce()
      .mark().int(3).str(byteorder).none().none().none().int(-1).int(-1).int(0).tuple().build();
  }

  /** A plain-pickle numpy array: _reconstruct(ndarray, (0,), b'b') then BUILD (1, shape, dtype, False, data). */
  array(code: string, shape: number[], data: ArrayLike<number>): this {
    this.global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray").int(0).tuple1().bytes([0x62]).tuple3().reduce();
    this.mark().int(1).mark();
    for (const d of shape) this.int(d);
    return this.tuple().dtype(code).bool(false).bytes(data).tuple().build();
  }
}
