// What the reader builds: plain data only. Python containers become JS ones (list and tuple ->
// array, dict -> Map so that non-string keys survive, set -> Set); allow-listed classes become
// records of their pickled state; NumPy values keep their dtype and raw bytes. Nothing here has
// behaviour that a pickle could trigger.

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PyDict
  | Set<PickleValue>
  | PyObject
  | PyGlobal
  | NdArray
  | NpScalar
  | DType;

export type PyDict = Map<PickleValue, PickleValue>;

/** A reference to an allow-listed global used as a value (e.g. `numpy.ndarray` as an argument). */
export class PyGlobal {
  constructor(readonly name: string) {}
}

/**
 * An instance of an allow-listed class: `class` is "module.Name", `args` what it was created with
 * (NEWOBJ's are empty; REDUCE-built Cython objects keep theirs), `state` what BUILD gave it
 * (undefined until then: the memo can hand out an object before its state arrives).
 */
export class PyObject {
  readonly class: string;
  state: PickleValue | undefined = undefined;
  constructor(cls: string, readonly args: PickleValue[]) {
    this.class = cls;
  }
}

/** A NumPy dtype: `code` as NumPy pickles it ("f8", "i8", "O8", "V88"), completed by BUILD. */
export class DType {
  byteorder = "=";
  fields: DTypeField[] | null = null;
  constructor(
    readonly code: string,
    readonly kind: "f" | "i" | "u" | "b" | "O" | "V",
    readonly itemsize: number,
  ) {}
}

export interface DTypeField {
  name: string;
  dtype: DType;
  offset: number;
}

/**
 * A NumPy array, C order. Numeric and structured dtypes keep their little-endian bytes
 * (`bytes`, prod(shape) * itemsize of them); object arrays keep their elements (`items`).
 */
export class NdArray {
  readonly class = "numpy.ndarray";
  dtype: DType | null = null;
  shape: number[] = [];
  bytes: Uint8Array | null = null;
  items: PickleValue[] | null = null;
}

/** A NumPy scalar (numpy.int64(3), numpy.float64(0.5), ...) with its value decoded. */
export class NpScalar {
  readonly class = "numpy.scalar";
  constructor(
    readonly dtype: DType,
    readonly value: number | bigint | boolean,
  ) {}
}
