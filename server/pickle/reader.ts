// A pickle virtual machine that executes nothing: it interprets the opcodes of protocols 2 to 5
// into plain data (values.ts), resolving globals only through the allow-list (globals.ts).
// Hostile input is bounded: every declared length is checked against the bytes left before
// anything is sliced or allocated, containers, the stack and the memo are capped, MARKs and the
// finished structure are limited in depth, and the work is one pass over the input.
import { ALLOWED, NUMPY_ARRAY_WRAPPER, resolveGlobal } from "./globals.ts";
import { openStream, wrapperState } from "./joblib.ts";
import { buildArray, buildDtype, describe, setArray, shapeText } from "./numpy.ts";
import { PickleError } from "./errors.ts";
import { DType, NdArray, PyGlobal, PyObject, type PickleValue } from "./values.ts";

export interface ReadLimits {
  /** Longest list, tuple, dict, set or stack. */
  maxItems: number;
  /** Values built in all (every push counts), and memo entries: bounds the memory of the result. */
  maxValues: number;
  /** Deepest nesting of MARKs, and of containers in the result. */
  maxDepth: number;
  /** Largest inflated size of a compressed file. */
  maxInflatedBytes: number;
}

// The fixture forest pickle (100 trees) builds under 150,000 values with 33,000 memo entries,
// has no container or stack of more than 750 items and a depth under 20. These limits leave wide
// margins (forests of some 1,500 such trees; callers may raise them) while keeping what hostile
// input can build to a few hundred MB at most, refused fast. A compressed file may inflate to
// 512 MiB (the fixture forest: 14.6 MB).
export const DEFAULT_LIMITS: ReadLimits = { maxItems: 1_000_000, maxValues: 2_500_000, maxDepth: 500, maxInflatedBytes: 512 << 20 };

/** Longest integer (LONG1/LONG4) accepted, in bytes: model files hold nothing near it. */
const MAX_LONG_BYTES = 1024;
/** Longest module or name line of a GLOBAL opcode. */
const MAX_LINE = 512;

const OPCODE_NAMES: Record<number, string> = {
  0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT", 0x4a: "BININT",
  0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE",
  0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND",
  0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT", 0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET",
  0x69: "INST", 0x6a: "LONG_BINGET", 0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT",
  0x72: "LONG_BINPUT", 0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
  0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
  0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4", 0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8", 0x8f: "EMPTY_SET",
  0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
  0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
};

const REFUSED: Record<string, string> = {
  PERSID: "persistent ids refer to objects outside the file",
  BINPERSID: "persistent ids refer to objects outside the file",
  EXT1: "extension-registry codes stand for globals outside the allow-list",
  EXT2: "extension-registry codes stand for globals outside the allow-list",
  EXT4: "extension-registry codes stand for globals outside the allow-list",
  INST: "protocol 0/1 instance creation is not part of protocols 2 to 5 as Python writes them",
  OBJ: "protocol 0/1 instance creation is not part of protocols 2 to 5 as Python writes them",
  NEXT_BUFFER: "out-of-band buffers (pickle.dump with buffer_callback) are not in the file",
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

interface Context {
  file: string;
  /** Values pushed so far, nested pickles of joblib object arrays included. */
  values: number;
  /** The stream is the inflated content of a compressed file: offsets count in it. */
  inflated: boolean;
  limits: ReadLimits;
}

/** Reads a pickle file's bytes (pickle.dump or joblib.dump output, compressed or not) into plain data. */
export function readPickle(bytes: Uint8Array, file: string, limits: Partial<ReadLimits> = {}): PickleValue {
  const all = { ...DEFAULT_LIMITS, ...limits };
  // A plain Uint8Array view: a Node Buffer's slice() would share memory where a copy is meant.
  const stream = openStream(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file, all.maxInflatedBytes);
  const machine = new Machine(stream.bytes, { file, values: 0, inflated: stream.compression !== null, limits: all }, false);
  const { value, end } = machine.run(0);
  if (end !== stream.bytes.length) machine.failAt(end, `${stream.bytes.length - end} bytes follow the STOP opcode; expected the end of the file`);
  checkDepth(value, all.maxDepth, (problem) => machine.failAt(end - 1, problem));
  return value;
}

class Machine {
  private pos = 0;
  private op = 0;
  private opName = "";
  private stack: PickleValue[] = [];
  private marks: number[] = [];
  private memo = new Map<number, PickleValue>();
  private readonly view: DataView;
  private readonly fail = (problem: string): never => this.failAt(this.op, `${this.opName}: ${problem}`);

  constructor(
    private readonly data: Uint8Array,
    private readonly ctx: Context,
    private readonly nested: boolean,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  failAt(offset: number, problem: string): never {
    throw new PickleError(this.ctx.file, `byte ${offset}${this.ctx.inflated ? " of the inflated stream" : ""}`, problem);
  }

  /** Runs from `start` to STOP; returns the value and the offset after STOP. */
  run(start: number): { value: PickleValue; end: number } {
    this.pos = start;
    if (this.data[start] !== 0x80) {
      this.op = start;
      this.opName = "start";
      const found = start < this.data.length ? `0x${this.data[start].toString(16).padStart(2, "0")}` : "the end of the input";
      this.fail(`expected a pickle of protocol 2 to 5 (PROTO, 0x80), found ${found}`);
    }
    try {
      return this.loop();
    } catch (err) {
      if (err instanceof PickleError) throw err;
      // Any other exception is a case this reader did not foresee; it still names the place.
      return this.fail(`unexpected ${(err as Error).name ?? "error"}: ${(err as Error).message ?? String(err)}`);
    }
  }

  private loop(): { value: PickleValue; end: number } {
    const { limits } = this.ctx;
    for (;;) {
      this.op = this.pos;
      if (this.pos >= this.data.length) {
        this.opName = "end";
        this.fail("the input ends before the STOP opcode (truncated file)");
      }
      const code = this.data[this.pos++];
      this.opName = OPCODE_NAMES[code] ?? `opcode 0x${code.toString(16).padStart(2, "0")}`;
      switch (code) {
        case 0x80: {
          const v = this.u8();
          if (v < 2 || v > 5) this.fail(`protocol ${v} is not supported (2 to 5 are)`);
          break;
        }
        case 0x95: // FRAME only groups opcodes for buffered reading: check and go on.
          this.length(this.u64());
          break;
        case 0x2e: {
          if (this.marks.length !== 0 || this.stack.length !== 1) this.fail(`expected exactly one value and no open MARK at STOP, found ${this.stack.length} values and ${this.marks.length} MARKs`);
          return { value: this.stack[0], end: this.pos };
        }
        case 0x28:
          if (this.marks.length >= limits.maxDepth) this.fail(`MARKs nest deeper than ${limits.maxDepth}`);
          this.marks.push(this.stack.length);
          break;
        case 0x30:
          if (this.stack.length > this.base()) this.stack.pop();
          else this.popMark(); // Python's POP drops an empty MARK frame the same way.
          break;
        case 0x31:
          this.popMark();
          break;
        case 0x32:
          this.push(this.top());
          break;
        case 0x4e:
          this.push(null);
          break;
        case 0x88:
          this.push(true);
          break;
        case 0x89:
          this.push(false);
          break;
        case 0x4a:
          this.need(4);
          this.push(this.view.getInt32(this.pos, true));
          this.pos += 4;
          break;
        case 0x4b:
          this.push(this.u8());
          break;
        case 0x4d:
          this.need(2);
          this.push(this.view.getUint16(this.pos, true));
          this.pos += 2;
          break;
        case 0x8a:
          this.push(this.long(this.u8()));
          break;
        case 0x8b:
          this.push(this.long(this.i32Length()));
          break;
        case 0x47:
          this.need(8);
          this.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        case 0x8c:
          this.push(this.text(this.u8()));
          break;
        case 0x58:
          this.push(this.text(this.u32()));
          break;
        case 0x8d:
          this.push(this.text(this.u64()));
          break;
        case 0x43:
          this.push(this.bytes(this.u8()));
          break;
        case 0x42:
          this.push(this.bytes(this.u32()));
          break;
        case 0x8e:
          this.push(this.bytes(this.u64()));
          break;
        case 0x96:
          this.push(this.bytes(this.u64()).slice()); // a bytearray is mutable: not a view of the input
          break;
        case 0x55:
          this.push(this.ascii(this.u8()));
          break;
        case 0x54:
          this.push(this.ascii(this.i32Length()));
          break;
        case 0x98:
          if (!(this.top() instanceof Uint8Array)) this.fail(`expected bytes on the stack, found ${describe(this.top())}`);
          break;
        case 0x29:
          this.push([]);
          break;
        case 0x74:
        case 0x6c: // TUPLE, LIST
          this.push(this.popMark());
          break;
        case 0x85:
          this.push([this.pop()]);
          break;
        case 0x86: {
          const b = this.pop();
          this.push([this.pop(), b]);
          break;
        }
        case 0x87: {
          const c = this.pop();
          const b = this.pop();
          this.push([this.pop(), b, c]);
          break;
        }
        case 0x5d:
          this.push([]);
          break;
        case 0x7d:
          this.push(new Map());
          break;
        case 0x64: {
          const items = this.popMark();
          const dict = new Map<PickleValue, PickleValue>();
          this.setItems(dict, items);
          this.push(dict);
          break;
        }
        case 0x8f:
          this.push(new Set());
          break;
        case 0x91:
          this.push(new Set(this.popMark()));
          break;
        case 0x90: {
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) this.fail(`expected a set on the stack, found ${describe(set)}`);
          this.grow((set as Set<PickleValue>).size, items.length);
          for (const v of items) (set as Set<PickleValue>).add(v);
          break;
        }
        case 0x61: {
          const v = this.pop();
          this.list().push(v);
          break;
        }
        case 0x65: {
          const items = this.popMark();
          const list = this.list();
          this.grow(list.length, items.length);
          for (const v of items) list.push(v); // a loop: spreading a million arguments overflows
          break;
        }
        case 0x73: {
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.dict(), [k, v]);
          break;
        }
        case 0x75: {
          const items = this.popMark();
          this.setItems(this.dict(), items);
          break;
        }
        case 0x68:
          this.push(this.get(this.u8()));
          break;
        case 0x6a:
          this.push(this.get(this.u32()));
          break;
        case 0x71:
          this.put(this.u8());
          break;
        case 0x72:
          this.put(this.u32());
          break;
        case 0x94:
          this.put(this.memo.size); // Python memoizes at len(memo)
          break;
        case 0x63: {
          const module = this.line();
          const name = this.line();
          this.pushGlobal(module, name);
          break;
        }
        case 0x93: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== "string" || typeof name !== "string") this.fail(`expected module and name strings, found ${describe(module)} and ${describe(name)}`);
          this.pushGlobal(module as string, name as string);
          break;
        }
        case 0x52: {
          const args = this.pop();
          const fn = this.pop();
          // A PyGlobal only comes from pushGlobal, which has checked it against the allow-list.
          const use = fn instanceof PyGlobal ? ALLOWED.get(fn.name) : undefined;
          if (use?.use !== "reduce") this.fail(`cannot call ${describe(fn)}: only the allow-listed constructors are understood, and none is executed`);
          if (!Array.isArray(args)) this.fail(`expected an argument tuple, found ${describe(args)}`);
          if (use?.use === "reduce") this.push(use.make(args as PickleValue[], this.fail));
          break;
        }
        case 0x81:
        case 0x92: {
          const kwargs = code === 0x92 ? this.pop() : null;
          const args = this.pop();
          const cls = this.pop();
          const use = cls instanceof PyGlobal ? ALLOWED.get(cls.name) : undefined;
          if (use?.use !== "class") this.fail(`cannot instantiate ${describe(cls)}: not an allow-listed class`);
          if (!Array.isArray(args) || args.length !== 0 || (kwargs instanceof Map && kwargs.size !== 0) || (kwargs !== null && !(kwargs instanceof Map))) {
            this.fail(`${(cls as PyGlobal).name}: expected no constructor arguments (its state follows in BUILD), got ${describe(args)}`);
          }
          this.push(new PyObject((cls as PyGlobal).name, []));
          break;
        }
        case 0x62: {
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        default: {
          const reason = REFUSED[this.opName];
          if (reason) this.fail(`not supported: ${reason}`);
          if (OPCODE_NAMES[code]) this.fail("a protocol 0 text opcode, not supported (Python writes protocols 2 to 5 without it)");
          this.fail("unknown opcode (corrupt or not a pickle)");
        }
      }
    }
  }

  private build(target: PickleValue, state: PickleValue): void {
    const limit = this.data.length;
    if (target instanceof DType) return buildDtype(target, state, this.fail);
    if (target instanceof NdArray) return buildArray(target, state, limit, this.fail);
    if (!(target instanceof PyObject)) return this.fail(`cannot give state to ${describe(target)}`);
    if (target.state !== undefined) this.fail(`${target.class} given its state twice`);
    if (!(state instanceof Map)) this.fail(`${target.class}: expected a dict of its attributes, got ${describe(state)}`);
    target.state = state;
    if (target.class === NUMPY_ARRAY_WRAPPER) this.stack[this.stack.length - 1] = this.wrappedArray(state);
  }

  /** joblib writes the wrapped array's contents right after the wrapper's BUILD; joblib's loader puts the array in its place on the stack. */
  private wrappedArray(state: PickleValue): NdArray {
    const w = wrapperState(state, this.data.length, this.fail);
    if (w.dtype.kind === "O") {
      // An object array is a complete, separate pickle (protocol 2) with its own memo.
      const inner = new Machine(this.data, this.ctx, true);
      const { value, end } = inner.run(this.pos);
      const sameShape = value instanceof NdArray && value.shape.length === w.shape.length && value.shape.every((d, i) => d === w.shape[i]);
      if (!(value instanceof NdArray) || value.dtype?.kind !== "O" || !sameShape) {
        this.fail(`the nested pickle of an object array of shape ${shapeText(w.shape)} holds ${describe(value)}`);
      }
      this.pos = end;
      return value as NdArray;
    }
    if (w.aligned) this.bytes(this.u8()); // padding length, then that many 0xFF bytes
    const arr = new NdArray();
    setArray(arr, w.dtype, w.shape, w.fortran, this.fail);
    arr.bytes = this.bytes(w.count * w.dtype.itemsize);
    return arr;
  }

  private pushGlobal(module: string, name: string): void {
    resolveGlobal(module, name, this.nested, this.fail);
    this.push(new PyGlobal(`${module}.${name}`));
  }

  private base(): number {
    return this.marks.length === 0 ? 0 : this.marks[this.marks.length - 1];
  }

  private push(v: PickleValue): void {
    if (this.stack.length >= this.ctx.limits.maxItems) this.fail(`the stack grows past ${this.ctx.limits.maxItems} values`);
    if (++this.ctx.values > this.ctx.limits.maxValues) this.fail(`more than ${this.ctx.limits.maxValues} values built`);
    this.stack.push(v);
  }

  private pop(): PickleValue {
    if (this.stack.length <= this.base()) this.fail("stack underflow (nothing to take above the last MARK)");
    return this.stack.pop()!;
  }

  private top(): PickleValue {
    if (this.stack.length <= this.base()) this.fail("stack underflow (nothing above the last MARK)");
    return this.stack[this.stack.length - 1];
  }

  private popMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail("no MARK to return to");
    return this.stack.splice(mark!);
  }

  private list(): PickleValue[] {
    const list = this.top();
    if (!Array.isArray(list)) this.fail(`expected a list on the stack, found ${describe(list)}`);
    this.grow((list as PickleValue[]).length, 1);
    return list as PickleValue[];
  }

  private dict(): Map<PickleValue, PickleValue> {
    const dict = this.top();
    if (!(dict instanceof Map)) this.fail(`expected a dict on the stack, found ${describe(dict)}`);
    return dict as Map<PickleValue, PickleValue>;
  }

  private setItems(dict: Map<PickleValue, PickleValue>, items: PickleValue[]): void {
    if (items.length % 2 !== 0) this.fail(`expected key/value pairs, found ${items.length} values`);
    this.grow(dict.size, items.length / 2);
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  }

  private grow(size: number, more: number): void {
    if (size + more > this.ctx.limits.maxItems) this.fail(`a container grows past ${this.ctx.limits.maxItems} items`);
  }

  private get(key: number): PickleValue {
    const v = this.memo.get(key);
    if (v === undefined) this.fail(`memo key ${key} was never set`);
    return v!;
  }

  private put(key: number): void {
    if (this.memo.size >= this.ctx.limits.maxValues && !this.memo.has(key)) this.fail(`the memo grows past ${this.ctx.limits.maxValues} entries`);
    this.memo.set(key, this.top());
  }

  private need(n: number): void {
    if (n > this.data.length - this.pos) {
      this.fail(`needs ${n} bytes at byte ${this.pos}, but the input ends at byte ${this.data.length} (truncated file or wrong length)`);
    }
  }

  /** A declared length, checked against what is left before anything is read or allocated. */
  private length(n: number): number {
    this.need(n);
    return n;
  }

  private u8(): number {
    this.need(1);
    return this.data[this.pos++];
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private i32Length(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    if (v < 0) this.fail(`negative length ${v}`);
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    // Longer than the input means refused either way; Number() of it stays above every check.
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  private bytes(n: number): Uint8Array {
    this.length(n);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private text(n: number): string {
    const raw = this.bytes(n);
    try {
      return utf8.decode(raw);
    } catch {
      return this.fail(`${n} bytes that are not valid UTF-8`);
    }
  }

  /** Python 2 str (BINSTRING): Python 3 decodes it as ASCII by default. */
  private ascii(n: number): string {
    const raw = this.bytes(n);
    let s = "";
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] > 0x7f) this.fail(`byte 0x${raw[i].toString(16)} in a Python 2 string is not ASCII`);
      s += String.fromCharCode(raw[i]);
    }
    return s;
  }

  private line(): string {
    const end = this.data.subarray(this.pos, this.pos + MAX_LINE).indexOf(0x0a);
    if (end < 0) this.fail(`expected a line of at most ${MAX_LINE} bytes ending in a newline`);
    const s = this.text(end);
    this.pos++;
    return s;
  }

  /** Two's-complement little-endian integer of `n` bytes: a number when exact, else a bigint. */
  private long(n: number): number | bigint {
    if (n > MAX_LONG_BYTES) this.fail(`an integer of ${n} bytes is longer than the ${MAX_LONG_BYTES} this reader accepts`);
    const raw = this.bytes(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]);
    if (raw[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    const num = Number(v);
    return Number.isSafeInteger(num) ? num : v;
  }
}

/** Depth of the finished structure, walked without recursion (shared and cyclic parts once). */
function checkDepth(root: PickleValue, maxDepth: number, fail: (problem: string) => never): void {
  const seen = new Set<object>();
  const values: (PickleValue | undefined)[] = [root];
  const depths: number[] = [0];
  const add = (v: PickleValue | undefined, depth: number) => {
    if (v !== null && typeof v === "object" && !(v instanceof Uint8Array) && !seen.has(v)) {
      values.push(v);
      depths.push(depth);
    }
  };
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (v === null || v === undefined || typeof v !== "object" || v instanceof Uint8Array || seen.has(v)) continue;
    seen.add(v);
    if (depth > maxDepth) fail(`the result nests deeper than ${maxDepth} levels`);
    if (Array.isArray(v)) for (const c of v) add(c, depth + 1);
    else if (v instanceof Map) for (const [k, c] of v) add(k, depth + 1), add(c, depth + 1);
    else if (v instanceof Set) for (const c of v) add(c, depth + 1);
    else if (v instanceof PyObject) {
      for (const c of v.args) add(c, depth + 1);
      add(v.state, depth + 1);
    } else if (v instanceof NdArray && v.items) for (const c of v.items) add(c, depth + 1);
  }
}
