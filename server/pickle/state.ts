// Typed reads of a record's pickled state. The state layout is what differs between library
// versions, so every read names the class and the field, and a field that is missing or of another
// kind stops the extraction there: a different layout is refused, never guessed at.
import { PickleError } from "./errors.ts";
import { describe, readElement, shapeText, type Fail } from "./numpy.ts";
import { DType, NdArray, NpScalar, PyObject, type PickleValue } from "./values.ts";
import { knownVersionsText } from "./versions.ts";

export class StateView {
  private constructor(
    readonly file: string,
    /** Where the object sits, from the pickled root: `est._inference.model_final`. */
    readonly path: string,
    readonly obj: PyObject,
    readonly state: Map<PickleValue, PickleValue>,
  ) {}

  /** `value` as an instance of `cls` whose state has been given. */
  static of(value: PickleValue | undefined, cls: string, file: string, path: string): StateView {
    if (!(value instanceof PyObject) || value.class !== cls) {
      throw new PickleError(file, path, `expected a ${cls} object, found ${describe(value)}`);
    }
    if (!(value.state instanceof Map)) throw new PickleError(file, `${path} (${cls})`, "its state was never given (BUILD missing)");
    return new StateView(file, path, value, value.state);
  }

  fail(field: string, problem: string): never {
    throw new PickleError(
      this.file,
      `${this.obj.class} field "${field}" (at ${this.path}.${field})`,
      `${problem}; the state of this class does not have the layout this reader knows (known to work: ${knownVersionsText()})`,
    );
  }

  /** A field of the known layout whose value this project cannot use (or that contradicts another). */
  refuse(field: string, problem: string): never {
    throw new PickleError(this.file, `${this.obj.class} field "${field}" (at ${this.path}.${field})`, problem);
  }

  /** A `Fail` for checks on the value of `field`. */
  failer(field: string): Fail {
    return (problem) => this.fail(field, problem);
  }

  has(field: string): boolean {
    return this.state.has(field);
  }

  raw(field: string): PickleValue {
    if (!this.state.has(field)) this.fail(field, "missing");
    return this.state.get(field)!;
  }

  child(field: string, cls: string): StateView {
    const v = this.raw(field);
    if (!(v instanceof PyObject) || v.class !== cls) this.fail(field, `expected a ${cls} object, found ${describe(v)}`);
    return StateView.of(v, cls, this.file, `${this.path}.${field}`);
  }

  int(field: string): number {
    const v = asInt(this.raw(field));
    if (v === undefined) this.fail(field, `expected an integer, found ${describe(this.raw(field))}`);
    return v!;
  }

  bool(field: string): boolean {
    const v = this.raw(field);
    if (typeof v !== "boolean") this.fail(field, `expected True or False, found ${describe(v)}`);
    return v as boolean;
  }

  string(field: string): string {
    const v = this.raw(field);
    if (typeof v !== "string") this.fail(field, `expected a string, found ${describe(v)}`);
    return v as string;
  }

  list(field: string): PickleValue[] {
    const v = this.raw(field);
    if (!Array.isArray(v)) this.fail(field, `expected a list, found ${describe(v)}`);
    return v as PickleValue[];
  }

  array(field: string, kinds: string): NdArray {
    return checkedArray(this.raw(field), kinds, this.failer(field));
  }

  none(field: string, why: string): void {
    const v = this.raw(field);
    if (v !== null) this.refuse(field, `expected None (${why}), found ${describe(v)}`);
  }
}

/** A Python int or a NumPy integer scalar, as an exact number. */
export function asInt(v: PickleValue): number | undefined {
  const n = v instanceof NpScalar && (v.dtype.kind === "i" || v.dtype.kind === "u") ? v.value : v;
  return typeof n === "number" && Number.isSafeInteger(n) ? n : undefined;
}

/** `v` as a filled array whose dtype kind is one of `kinds` ("f", "iu", "O", "V"). */
export function checkedArray(v: PickleValue, kinds: string, fail: Fail): NdArray {
  if (!(v instanceof NdArray) || v.dtype === null) return fail(`expected a NumPy array, found ${describe(v)}`);
  if (!kinds.includes(v.dtype.kind)) fail(`expected an array of kind ${kinds}, found dtype ${v.dtype.code}`);
  return v;
}

export function expectShape(arr: NdArray, shape: number[], fail: Fail): void {
  if (arr.shape.length !== shape.length || arr.shape.some((d, i) => d !== shape[i])) {
    fail(`expected shape ${shapeText(shape)}, found ${shapeText(arr.shape)}`);
  }
}

/** A float array's values (f8 or f4). */
export function floats(arr: NdArray, fail: Fail): Float64Array {
  const dt = checkedArray(arr, "f", fail).dtype!;
  if (dt.itemsize === 8) {
    // Copied whole into aligned memory (the host is little-endian like the data).
    const out = new Float64Array(arr.bytes!.length / 8);
    new Uint8Array(out.buffer).set(arr.bytes!);
    return out;
  }
  return elements(arr.bytes!, dt, 0, dt.itemsize, fail, (v) => v as number);
}

/** An integer array's values, each an exact number. */
export function ints(arr: NdArray, fail: Fail): Float64Array {
  const dt = checkedArray(arr, "iu", fail).dtype!;
  return elements(arr.bytes!, dt, 0, dt.itemsize, fail, exact(fail));
}

/** One numeric field of a structured (record) array, e.g. `threshold` of tree nodes. */
export function recordField(arr: NdArray, name: string, kinds: string, fail: Fail): Float64Array {
  const dt = checkedArray(arr, "V", fail).dtype!;
  const field = dt.fields?.find((f) => f.name === name);
  if (!field) return fail(`the records have no field "${name}" (fields: ${dt.fields?.map((f) => f.name).join(", ")})`);
  if (!kinds.includes(field.dtype.kind)) fail(`record field "${name}" has dtype ${field.dtype.code}, expected kind ${kinds}`);
  return elements(arr.bytes!, field.dtype, field.offset, dt.itemsize, fail, field.dtype.kind === "f" ? (v) => v as number : exact(fail));
}

const exact = (fail: Fail) => (v: number | bigint | boolean): number => {
  if (typeof v !== "number") fail(`integer ${String(v)} is too large`);
  return v as number;
};

function elements(bytes: Uint8Array, dt: DType, offset: number, stride: number, fail: Fail, convert: (v: number | bigint | boolean) => number): Float64Array {
  const n = stride === 0 ? 0 : Math.floor(bytes.length / stride);
  if (n * stride !== bytes.length) fail(`${bytes.length} bytes are not a whole number of ${stride}-byte elements`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = convert(readElement(view, i * stride + offset, dt));
  return out;
}
