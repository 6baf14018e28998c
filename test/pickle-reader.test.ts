// The pickle reader on its own: every fixture file reads, opcodes of protocols 2 to 5 give the
// plain values they stand for, globals outside the allow-list are refused by name, and hostile
// inputs (huge declared sizes, deep nesting, growth bombs, memo abuse) are refused fast.
import { readFileSync } from "node:fs";
import { deflateSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { PickleError } from "../server/pickle/errors.ts";
import { readPickle } from "../server/pickle/reader.ts";
import { NdArray, NpScalar, PyGlobal, PyObject, type PickleValue } from "../server/pickle/values.ts";
import { ModelFormatError } from "../server/model/errors.ts";
import { fixturePath } from "./helpers/fixtures.ts";
import { PickleBuilder } from "./fixtures-pickle/build.ts";

const read = (bytes: Uint8Array, limits = {}) => readPickle(bytes, "test.pkl", limits);

/** The PickleError `fn` throws (failing the test if it throws anything else, or nothing). */
function refusal(fn: () => unknown): PickleError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PickleError);
    return err as PickleError;
  }
  throw new Error("expected a PickleError, nothing was thrown");
}

/** Refused within `ms` milliseconds, with a message matching `pattern`. */
function refusedFast(bytes: Uint8Array, pattern: RegExp, ms = 1000, limits = {}): PickleError {
  const t0 = performance.now();
  const err = refusal(() => read(bytes, limits));
  expect(performance.now() - t0).toBeLessThan(ms);
  expect(err.message).toMatch(pattern);
  return err;
}

describe("fixture files", () => {
  const expected: Record<string, string> = {
    "scaler.pkl": "sklearn.preprocessing._data.StandardScaler",
    "churn_model.pkl": "lightgbm.sklearn.LGBMClassifier",
    "churn_model.joblib.pkl": "lightgbm.sklearn.LGBMClassifier",
    "churn_booster.pkl": "lightgbm.basic.Booster",
    "causal_forest.pkl": "econml.dml.causal_forest.CausalForestDML",
    "causal_forest.joblib.pkl": "econml.dml.causal_forest.CausalForestDML",
    "causal_forest.joblib-z3.pkl": "econml.dml.causal_forest.CausalForestDML",
  };
  for (const [file, cls] of Object.entries(expected)) {
    it(`reads ${file} as a ${cls} record`, () => {
      const v = readPickle(readFileSync(fixturePath("pickles", file)), file);
      expect(v).toBeInstanceOf(PyObject);
      expect((v as PyObject).class).toBe(cls);
      expect((v as PyObject).state).toBeInstanceOf(Map);
    });
  }

  it("reads zlib- and gzip-compressed copies as the plain file", () => {
    const plain = readFileSync(fixturePath("pickles", "scaler.pkl"));
    const want = readPickle(plain, "scaler.pkl");
    expect(readPickle(deflateSync(plain), "scaler.pkl")).toEqual(want);
    expect(readPickle(gzipSync(plain), "scaler.pkl")).toEqual(want);
  });

  it("reads feature_columns.pkl as a list of 21 names", () => {
    const v = readPickle(readFileSync(fixturePath("pickles", "feature_columns.pkl")), "feature_columns.pkl");
    expect(Array.isArray(v) && v.length).toBe(21);
    expect((v as string[])[0]).toBe("tenure");
  });

  it("keeps shared objects shared: est._inference._est is est itself, built in place", () => {
    const est = readPickle(readFileSync(fixturePath("pickles", "causal_forest.pkl")), "causal_forest.pkl") as PyObject;
    const state = est.state as Map<string, PickleValue>;
    const inference = state.get("_inference") as PyObject;
    expect((inference.state as Map<string, PickleValue>).get("_est")).toBe(est);
    const wrapper = ((state.get("_ortho_learner_model_final") as PyObject).state as Map<string, PickleValue>).get("_model_final") as PyObject;
    expect((inference.state as Map<string, PickleValue>).get("model_final")).toBe((wrapper.state as Map<string, PickleValue>).get("_model"));
  });

  it("reads the scaler's arrays and scalars with their dtypes", () => {
    const ss = readPickle(readFileSync(fixturePath("pickles", "scaler.pkl")), "scaler.pkl") as PyObject;
    const state = ss.state as Map<string, PickleValue>;
    const mean = state.get("mean_") as NdArray;
    expect(mean.dtype?.code).toBe("f8");
    expect(mean.shape).toEqual([21]);
    expect(mean.bytes?.length).toBe(21 * 8);
    const n = state.get("n_samples_seen_") as NpScalar;
    expect(n.dtype.code).toBe("i8");
    expect(n.value).toBe(20000);
  });
});

describe("opcodes of protocols 2 to 5", () => {
  it("numbers, strings, bytes and containers", () => {
    const p = new PickleBuilder(5).mark()
      .int(7).int(300).int(-5).int(100000)
      .op(0x8a, 1, 0xff) // LONG1 -1
      .op(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1) // LONG1 2**64
      .float(0.1).none().bool(true).bool(false)
      .str("héllo").op(0x58).u32(2).raw([0x6f, 0x6b]) // BINUNICODE
      .op(0x8d).u64(2n).raw([0x68, 0x69]) // BINUNICODE8
      .bytes([1, 2, 3]).op(0x42).u32(1).raw([9]).op(0x8e).u64(1n).raw([8]) // SHORT_BINBYTES, BINBYTES, BINBYTES8
      .op(0x96).u64(2n).raw([4, 5]).op(0x98) // BYTEARRAY8, READONLY_BUFFER
      .op(0x55, 2, 0x61, 0x62) // SHORT_BINSTRING (Python 2 str)
      .emptyTuple().int(1).tuple1().int(1).int(2).tuple2()
      .emptyList().mark().int(1).int(2).appends()
      .emptyDict().str("k").int(1).setitem()
      .op(0x8f).mark().int(3).op(0x90) // EMPTY_SET, ADDITEMS
      .mark().int(4).op(0x91) // FROZENSET
      .op(0x6c) // LIST from the outer MARK
      .stop();
    const v = read(p) as PickleValue[];
    expect(v.slice(0, 14)).toEqual([7, 300, -5, 100000, -1, 2n ** 64n, 0.1, null, true, false, "héllo", "ok", "hi", new Uint8Array([1, 2, 3])]);
    expect(v.slice(14, 18)).toEqual([new Uint8Array([9]), new Uint8Array([8]), new Uint8Array([4, 5]), "ab"]);
    expect(v.slice(18, 22)).toEqual([[], [1], [1, 2], [1, 2]]);
    expect(v[22]).toEqual(new Map([["k", 1]]));
    expect(v[23]).toEqual(new Set([3]));
    expect(v[24]).toEqual(new Set([4]));
  });

  it("the memo: MEMOIZE, BINPUT/BINGET, LONG_BINPUT/LONG_BINGET share one object, cycles included", () => {
    const p = new PickleBuilder(4).emptyList().memoize().get(0).append() // l = []; l.append(l)
      .emptyDict().put(1000).op(0x30) // POP
      .mark().get(0).get(1000).tuple().tuple2().stop();
    const [l, pair] = read(p) as [PickleValue[], PickleValue[]];
    expect(l[0]).toBe(l);
    expect(pair[0]).toBe(l);
    expect(pair[1]).toBeInstanceOf(Map);
  });

  it("protocol 2 with text GLOBAL builds an allow-listed class record", () => {
    const p = new PickleBuilder(2).global("sklearn.preprocessing._data", "StandardScaler", true).emptyTuple().newobj()
      .emptyDict().str("with_mean").bool(true).setitem().build().stop();
    const v = read(p) as PyObject;
    expect(v.class).toBe("sklearn.preprocessing._data.StandardScaler");
    expect(v.state).toEqual(new Map([["with_mean", true]]));
  });

  it("numpy arrays and structured dtypes", () => {
    const f8 = new Uint8Array(new Float64Array([1.5, -2]).buffer);
    const v = read(new PickleBuilder().array("f8", [2], f8).stop()) as NdArray;
    expect(v.shape).toEqual([2]);
    expect(Array.from(new Float64Array(v.bytes!.slice().buffer))).toEqual([1.5, -2]);
    const g = read(new PickleBuilder().global("numpy", "ndarray").stop());
    expect(g).toEqual(new PyGlobal("numpy.ndarray"));
  });

  it("refuses protocols 0 and 1 (no PROTO) and unsupported protocols", () => {
    expect(refusal(() => read(Uint8Array.from([0x4e, 0x2e]))).message).toMatch(/protocol 2 to 5/);
    expect(refusal(() => read(Uint8Array.from([0x80, 6, 0x4e, 0x2e]))).message).toMatch(/protocol 6 is not supported/);
  });

  it("names the file and the byte offset in every error", () => {
    const err = refusal(() => readPickle(new PickleBuilder().none().get(5).stop(), "models/x.pkl"));
    expect(err.message).toBe("models/x.pkl: byte 3: BINGET: memo key 5 was never set");
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.file).toBe("models/x.pkl");
  });
});

describe("globals outside the allow-list are refused by name", () => {
  const calls: [string, string][] = [
    ["os", "system"],
    ["posix", "system"],
    ["builtins", "eval"],
    ["builtins", "exec"],
    ["builtins", "getattr"],
    ["subprocess", "Popen"],
    ["numpy", "load"],
    ["numpy._core.multiarray", "_reconstruct"],
    ["sklearn.preprocessing._data", "StandardScalerX"],
  ];
  for (const [module, name] of calls) {
    it(`${module}.${name} via STACK_GLOBAL, REDUCE`, () => {
      const p = new PickleBuilder(4).global(module, name).str("echo pwned").tuple1().reduce().stop();
      const err = refusal(() => read(p));
      expect(err.message).toContain(`refused global ${module}.${name}`);
      expect(err.message).toContain(`module "${module}", name "${name}"`);
    });
    it(`${module}.${name} via GLOBAL (protocol 2)`, () => {
      const p = new PickleBuilder(2).global(module, name, true).str("echo pwned").tuple1().reduce().stop();
      expect(refusal(() => read(p)).message).toContain(`refused global ${module}.${name}`);
    });
  }

  it("refuses the global even when it is never called", () => {
    expect(refusal(() => read(new PickleBuilder().global("os", "system").stop())).message).toContain("os.system");
  });

  it("calls nothing that is allowed only as a value, and instantiates only allowed classes", () => {
    const reduceValue = new PickleBuilder().global("numpy", "ndarray").emptyTuple().reduce().stop();
    expect(refusal(() => read(reduceValue)).message).toMatch(/REDUCE: cannot call the global numpy.ndarray/);
    const newobjReduce = new PickleBuilder().global("numpy", "dtype").emptyTuple().newobj().stop();
    expect(refusal(() => read(newobjReduce)).message).toMatch(/NEWOBJ: cannot instantiate the global numpy.dtype/);
    const withArgs = new PickleBuilder().global("sklearn.preprocessing._data", "StandardScaler").int(1).tuple1().newobj().stop();
    expect(refusal(() => read(withArgs)).message).toMatch(/expected no constructor arguments/);
    const reduceClass = new PickleBuilder().global("lightgbm.basic", "Booster").emptyTuple().reduce().stop();
    expect(refusal(() => read(reduceClass)).message).toMatch(/cannot call the global lightgbm.basic.Booster/);
  });

  it("refuses persistent ids, extension codes and out-of-band buffers", () => {
    expect(refusal(() => read(new PickleBuilder().str("x").op(0x51).stop())).message).toMatch(/BINPERSID: not supported/);
    expect(refusal(() => read(new PickleBuilder().op(0x82, 1).stop())).message).toMatch(/EXT1: not supported/);
    expect(refusal(() => read(new PickleBuilder(5).op(0x97).stop())).message).toMatch(/NEXT_BUFFER: not supported/);
    expect(refusal(() => read(new PickleBuilder(2).op(0x69).stop())).message).toMatch(/INST: not supported/);
  });
});

describe("malformed and hostile input", () => {
  it("memo abuse and stack misuse", () => {
    refusedFast(new PickleBuilder().get(0).stop(), /BINGET: memo key 0 was never set/);
    refusedFast(new PickleBuilder().op(0x6a).u32(0xffffffff).stop(), /LONG_BINGET: memo key 4294967295 was never set/);
    refusedFast(new PickleBuilder().memoize().stop(), /MEMOIZE: stack underflow/);
    refusedFast(new PickleBuilder().mark().append().stop(), /APPEND: stack underflow/);
    refusedFast(new PickleBuilder().int(1).appends().stop(), /APPENDS: no MARK/);
    refusedFast(new PickleBuilder().int(1).int(2).stop(), /expected exactly one value/);
    refusedFast(new PickleBuilder().int(1).emptyList().tuple2().op(0x61).stop(), /APPEND: stack underflow/);
    refusedFast(new PickleBuilder().emptyDict().mark().int(1).setitems().stop(), /SETITEMS: expected key\/value pairs/);
    refusedFast(new PickleBuilder().int(1).int(2).append().stop(), /APPEND: expected a list on the stack, found number 1/);
  });

  it("truncated files and bytes after STOP", () => {
    refusedFast(new PickleBuilder().none().done(), /the input ends before the STOP opcode/);
    refusedFast(new PickleBuilder().op(0x4a, 1, 2).done(), /BININT: needs 4 bytes/);
    const trailing = new PickleBuilder().none().op(0x2e, 0x4e).done();
    refusedFast(trailing, /1 bytes follow the STOP opcode/);
    refusedFast(new Uint8Array(0), /the file is empty/);
  });

  it("huge declared lengths are checked against the input before anything is allocated", () => {
    refusedFast(new PickleBuilder().op(0x8d).u64(1n << 62n).raw([0x61]).stop(), /BINUNICODE8: needs 9007199254740991 bytes/);
    refusedFast(new PickleBuilder().op(0x8e).u64(1n << 40n).stop(), /BINBYTES8: needs 1099511627776 bytes/);
    refusedFast(new PickleBuilder().op(0x58).u32(0xffffffff).stop(), /BINUNICODE: needs 4294967295 bytes/);
    refusedFast(new PickleBuilder().op(0x96).u64(1n << 33n).stop(), /BYTEARRAY8: needs/);
    refusedFast(new PickleBuilder().op(0x95).u64(1n << 50n).none().stop(), /FRAME: needs/);
    refusedFast(new PickleBuilder().op(0x8b).u32(1 << 30).stop(), /LONG4: an integer of 1073741824 bytes/);
    refusedFast(new PickleBuilder().op(0x54).u32(0x80000000).stop(), /BINSTRING: negative length/);
  });

  it("an array header claiming a billion elements is refused without allocating them", () => {
    const plain = new PickleBuilder().array("f8", [1_000_000_000], new Uint8Array(8)).stop();
    refusedFast(plain, /array f8 of shape \[1000000000\]: expected 8000000000 data bytes, got bytes \(8\)|declares more elements/);
    const overflow = new PickleBuilder().array("f8", [65536, 65536, 65536, 65536], new Uint8Array(8)).stop();
    refusedFast(overflow, /declares more elements than the input could hold/);
    // joblib: the wrapper's shape says how many raw bytes follow; they must be there.
    const joblib = new PickleBuilder().global("joblib.numpy_pickle", "NumpyArrayWrapper").emptyTuple().newobj()
      .emptyDict().mark()
      .str("subclass").global("numpy", "ndarray").str("shape").int(1_000_000_000).tuple1().str("order").str("C")
      .str("dtype").dtype("f8").str("allow_mmap").bool(false).str("numpy_array_alignment_bytes").int(16)
      .setitems().build().op(1, 0xff).raw(new Uint8Array(64)).stop();
    refusedFast(joblib, /declares more elements than the input could hold|needs 8000000000 bytes/);
  });

  it("unsupported dtypes and byte orders", () => {
    refusedFast(new PickleBuilder().dtype("U10").stop(), /unsupported dtype "U10"/);
    refusedFast(new PickleBuilder().dtype("M8").stop(), /unsupported dtype "M8"/);
    refusedFast(new PickleBuilder().dtype("f8", ">").stop(), /byte order ">" is not supported/);
    refusedFast(new PickleBuilder().array("f8", [3], new Uint8Array(16)).stop(), /expected 24 data bytes, got bytes \(16\)/);
  });

  it("deep nesting: MARKs and nested containers", () => {
    const marks = new PickleBuilder().raw(new Uint8Array(100_000).fill(0x28)).stop();
    refusedFast(marks, /MARKs nest deeper than 500/);
    // Top-down through the memo: each new list goes into the previous one, the stack stays small.
    const chain = new PickleBuilder().emptyList().put(0);
    for (let i = 1; i <= 5000; i++) chain.get((i - 1) % 2).emptyList().put(i % 2).append().op(0x30);
    refusedFast(chain.stop(), /the result nests deeper than 500 levels/);
    // Bottom-up on the stack: a deep stack of empty lists appended into one another.
    const stacked = new PickleBuilder().raw(new Uint8Array(2000).fill(0x5d)).raw(new Uint8Array(1999).fill(0x61)).stop();
    refusedFast(stacked, /nests deeper than 500/);
  });

  it("list-growth bombs: DUP/APPENDS and memo references", () => {
    const dup = new PickleBuilder().emptyList().mark().int(0).raw(new Uint8Array(1_100_000).fill(0x32)).appends().stop();
    refusedFast(dup, /the stack grows past 1000000 values/, 2000);
    const memo = new PickleBuilder().emptyList().put(0);
    // l.append(l) a million times: BINGET 0, APPEND.
    const body = new Uint8Array(3 * 1_100_000);
    for (let i = 0; i < body.length; i += 3) body.set([0x68, 0, 0x61], i);
    refusedFast(memo.raw(body).stop(), /APPEND: a container grows past 1000000 items/, 2000);
    // The same bombs under a tighter limit, as a caller may set one.
    refusedFast(new PickleBuilder().emptyList().mark().raw(new Uint8Array(200).fill(0x4e)).appends().stop(), /the stack grows past 100 values/, 1000, { maxItems: 100 });
    refusedFast(new PickleBuilder().emptyList().put(0).raw(body.subarray(0, 600)).stop(), /a container grows past 100 items/, 1000, { maxItems: 100 });
  });

  it("many small values, or memo entries, past the total budget", () => {
    const dicts = new Uint8Array(2 * 2000);
    for (let i = 0; i < dicts.length; i += 2) dicts.set([0x7d, 0x30], i); // EMPTY_DICT, POP
    refusedFast(new PickleBuilder().raw(dicts).none().stop(), /EMPTY_DICT: more than 1000 values built/, 1000, { maxValues: 1000 });
    refusedFast(new PickleBuilder().none().raw(new Uint8Array(2000).fill(0x94)).stop(), /MEMOIZE: the memo grows past 1000 entries/, 1000, { maxValues: 1000 });
  });

  it("zlib bombs stop at the inflation limit", () => {
    const bomb = deflateSync(new Uint8Array(4 << 20).fill(0x4e)); // 4 MiB of NONE opcodes
    bomb[0] = 0x78;
    refusedFast(bomb, /the zlib stream inflates past 1048576 bytes/, 2000, { maxInflatedBytes: 1 << 20 });
    refusedFast(deflateSync(new Uint8Array(1000).fill(0x4e)), /the zlib stream does not hold a pickle/);
    const damaged = deflateSync(new PickleBuilder().none().stop());
    refusedFast(damaged.subarray(0, damaged.length - 3), /the zlib stream is damaged/);
    refusedFast(Uint8Array.from([0x42, 0x5a, 0x68, 0x39]), /bz2 compression is not supported/);
  });
});
