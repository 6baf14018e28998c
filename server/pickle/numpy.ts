// NumPy values as pickles carry them (README "numpy values"): dtypes rebuilt from their code and
// BUILD state, arrays from `_reconstruct` + BUILD (or joblib's wrapper), scalars from their bytes.
// Nothing is allocated from a declared size before that size is checked against bytes present.
import { DType, NdArray, NpScalar, PyGlobal, type DTypeField, type PickleValue } from "./values.ts";

export type Fail = (problem: string) => never;

const SIZES: Record<string, number[]> = { f: [4, 8], i: [1, 2, 4, 8], u: [1, 2, 4, 8], b: [1], O: [8] };
/** Structured records wider than this are not NumPy tree nodes; refusing them bounds field work. */
const MAX_RECORD = 1 << 16;

/** A shape for messages: a hostile one can have a million dimensions. */
export function shapeText(shape: PickleValue): string {
  if (!Array.isArray(shape)) return describe(shape);
  const dims = shape.slice(0, 8).map((d) => (typeof d === "number" ? String(d) : describe(d)));
  return `[${dims.join(", ")}${shape.length > 8 ? `, ... (${shape.length} dimensions)` : ""}]`;
}

export function describe(v: PickleValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "None";
  if (Array.isArray(v)) return `a list/tuple of ${v.length}`;
  if (v instanceof Uint8Array) return `bytes (${v.length})`;
  if (v instanceof Map) return "a dict";
  if (v instanceof Set) return "a set";
  if (v instanceof PyGlobal) return `the global ${v.name}`;
  if (v instanceof DType) return `dtype ${v.code}`;
  if (v instanceof NdArray) return `an array (${v.dtype?.code ?? "no dtype"}, shape ${shapeText(v.shape)})`;
  if (v instanceof NpScalar) return `a numpy ${v.dtype.code} scalar`;
  if (typeof v === "object") return `a ${v.class} object`;
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** `numpy.dtype(code, False, True)`. */
export function makeDtype(args: PickleValue[], fail: Fail): DType {
  const code = args[0];
  if (args.length !== 3 || typeof code !== "string" || typeof args[1] !== "boolean" || typeof args[2] !== "boolean") {
    fail(`numpy.dtype: expected arguments (code, align, copy), got (${args.map(describe).join(", ")})`);
  }
  const m = /^([fiubOV])(\d{1,7})$/.exec(code as string);
  const kind = m?.[1] as DType["kind"] | undefined;
  const size = Number(m?.[2]);
  const ok = kind === "V" ? size > 0 && size <= MAX_RECORD : kind !== undefined && SIZES[kind].includes(size);
  if (!ok) fail(`unsupported dtype ${JSON.stringify(code)}: expected float (f4, f8), integer (i1..i8, u1..u8), bool (b1), object (O8) or a structured record (V<n>)`);
  return new DType(code as string, kind!, size);
}

/** BUILD of a dtype: `(3, byteorder, subarray, names, fields, elsize, alignment, flags)`. */
export function buildDtype(dt: DType, state: PickleValue, fail: Fail): void {
  if (dt.byteorder !== "=") fail(`dtype ${dt.code} given its state twice`);
  if (!Array.isArray(state) || !(state.length === 8 || (state.length === 9 && state[8] === null)) || !(state[0] === 3 || state[0] === 4)) {
    fail(`dtype ${dt.code}: expected state (3, byteorder, subarray, names, fields, elsize, alignment, flags), got ${describe(state)}`);
  }
  const [, byteorder, subarray, names, fields, elsize] = state as PickleValue[];
  if (byteorder !== "<" && byteorder !== "|") fail(`dtype ${dt.code}: byte order ${JSON.stringify(byteorder)} is not supported (expected little-endian "<" or "|")`);
  if (subarray !== null) fail(`dtype ${dt.code}: sub-array dtypes are not supported`);
  dt.byteorder = byteorder as string;
  if (dt.kind !== "V") {
    if (names !== null || fields !== null) fail(`dtype ${dt.code}: a plain dtype with record fields`);
    return;
  }
  if (elsize !== dt.itemsize) fail(`dtype ${dt.code}: elsize ${describe(elsize)} does not match the code`);
  if (!Array.isArray(names) || !(fields instanceof Map) || names.length !== fields.size) {
    fail(`dtype ${dt.code}: expected field names and a fields dict of the same length`);
  }
  const list: DTypeField[] = [];
  for (const name of names as PickleValue[]) {
    const f = (fields as Map<PickleValue, PickleValue>).get(name as string);
    if (typeof name !== "string" || !Array.isArray(f) || f.length < 2 || !(f[0] instanceof DType) || typeof f[1] !== "number") {
      fail(`dtype ${dt.code}: field ${describe(name)} is not (dtype, offset)`);
    }
    const [fdt, offset] = f as [DType, number];
    if (fdt.kind === "O" || fdt.kind === "V") fail(`dtype ${dt.code}: field ${name} of dtype ${fdt.code} is not supported (numbers only)`);
    if (!(Number.isInteger(offset) && offset >= 0 && offset + fdt.itemsize <= dt.itemsize)) fail(`dtype ${dt.code}: field ${name} at offset ${offset} lies outside the record`);
    list.push({ name: name as string, dtype: fdt, offset });
  }
  dt.fields = list;
}

/** `_reconstruct(numpy.ndarray, (0,), b'b')`: an empty array that BUILD fills. */
export function makeArray(args: PickleValue[], fail: Fail): NdArray {
  const [cls, shape, code] = args;
  if (args.length !== 3 || !(cls instanceof PyGlobal) || cls.name !== "numpy.ndarray" || !Array.isArray(shape) || !(code instanceof Uint8Array)) {
    fail(`_reconstruct: expected (numpy.ndarray, shape, typecode), got (${args.map(describe).join(", ")})`);
  }
  return new NdArray();
}

/** Element count of a shape, refusing non-integer dimensions and counts past `limit`. */
export function elementCount(shape: PickleValue, limit: number, fail: Fail): number {
  if (!Array.isArray(shape)) fail(`array shape: expected a tuple, got ${describe(shape)}`);
  let count = 1;
  for (const d of shape as PickleValue[]) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) fail(`array shape ${describe(shape)}: dimension ${describe(d)} is not a non-negative integer`);
    count *= d as number;
    if (count > limit) fail(`array shape ${shapeText(shape)} declares more elements than the input could hold (limit ${limit})`);
  }
  return count;
}

/** BUILD of an array: `(1, shape, dtype, is_fortran, data)`; data are bytes or, for objects, a list. */
export function buildArray(arr: NdArray, state: PickleValue, limit: number, fail: Fail): void {
  if (arr.dtype !== null) fail("array given its state twice");
  if (!Array.isArray(state) || state.length !== 5 || state[0] !== 1) fail(`array: expected state (1, shape, dtype, is_fortran, data), got ${describe(state)}`);
  const [, shape, dtype, fortran, data] = state as PickleValue[];
  if (!(dtype instanceof DType) || dtype.byteorder === "=") fail(`array: expected a built dtype, got ${describe(dtype)}`);
  if (typeof fortran !== "boolean") fail(`array: expected is_fortran True/False, got ${describe(fortran)}`);
  const count = elementCount(shape, limit, fail);
  setArray(arr, dtype as DType, shape as number[], fortran as boolean, fail);
  if ((dtype as DType).kind === "O") {
    if (!Array.isArray(data) || data.length !== count) fail(`object array of shape ${shapeText(shape)}: expected a list of ${count} elements, got ${describe(data)}`);
    arr.items = data as PickleValue[];
  } else {
    const need = count * (dtype as DType).itemsize;
    if (!(data instanceof Uint8Array) || data.length !== need) fail(`array ${(dtype as DType).code} of shape ${shapeText(shape)}: expected ${need} data bytes, got ${describe(data)}`);
    arr.bytes = data as Uint8Array;
  }
}

export function setArray(arr: NdArray, dtype: DType, shape: number[], fortran: boolean, fail: Fail): void {
  // Fortran order matters only with two or more dimensions of size > 1; none of the files has it.
  if (fortran && shape.filter((d) => d > 1).length > 1) fail(`array of shape ${shapeText(shape)} in Fortran order is not supported`);
  if (dtype.byteorder === "=") fail(`array: dtype ${dtype.code} has no byte order (its state was never given)`);
  arr.dtype = dtype;
  arr.shape = shape.slice();
}

/** `numpy.core.multiarray.scalar(dtype, bytes)`. */
export function makeScalar(args: PickleValue[], fail: Fail): NpScalar {
  const [dtype, data] = args;
  if (args.length !== 2 || !(dtype instanceof DType) || !(data instanceof Uint8Array)) {
    fail(`numpy scalar: expected (dtype, bytes), got (${args.map(describe).join(", ")})`);
  }
  const dt = dtype as DType;
  if (dt.kind === "O" || dt.kind === "V" || dt.byteorder === "=") fail(`numpy scalar of dtype ${dt.code} is not supported`);
  if ((data as Uint8Array).length !== dt.itemsize) fail(`numpy scalar ${dt.code}: expected ${dt.itemsize} bytes, got ${(data as Uint8Array).length}`);
  return new NpScalar(dt, readElement(new DataView((data as Uint8Array).buffer, (data as Uint8Array).byteOffset, dt.itemsize), 0, dt));
}

/** One little-endian element; 64-bit integers come back as numbers when exact, else bigints. */
export function readElement(view: DataView, at: number, dt: DType): number | bigint | boolean {
  switch (dt.kind) {
    case "f":
      return dt.itemsize === 8 ? view.getFloat64(at, true) : view.getFloat32(at, true);
    case "b":
      return view.getUint8(at) !== 0;
    case "i":
    case "u": {
      const signed = dt.kind === "i";
      if (dt.itemsize === 8) {
        const big = signed ? view.getBigInt64(at, true) : view.getBigUint64(at, true);
        const n = Number(big);
        return Number.isSafeInteger(n) ? n : big;
      }
      if (dt.itemsize === 4) return signed ? view.getInt32(at, true) : view.getUint32(at, true);
      if (dt.itemsize === 2) return signed ? view.getInt16(at, true) : view.getUint16(at, true);
      return signed ? view.getInt8(at) : view.getUint8(at);
    }
    default:
      throw new Error(`readElement: dtype ${dt.code} has no scalar elements`);
  }
}
