// joblib's two additions to pickle: whole-file compression (zlib, or gzip) detected from the first
// bytes, and NumpyArrayWrapper records whose array bytes follow the BUILD opcode in the stream
// (README "joblib files"). Inflation is capped so that a small file cannot expand without bound.
import { gunzipSync, inflateSync } from "node:zlib";
import { describe, elementCount, type Fail } from "./numpy.ts";
import { PickleError } from "./errors.ts";
import { DType, PyGlobal, type PickleValue } from "./values.ts";

export interface Stream {
  bytes: Uint8Array;
  /** The compression that was undone ("zlib", "gzip"), or null for a bare pickle stream. */
  compression: string | null;
}

const UNSUPPORTED: [string, number[]][] = [
  ["bz2", [0x42, 0x5a, 0x68]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["lzma", [0x5d, 0x00, 0x00]],
  ["lz4", [0x04, 0x22, 0x4d, 0x18]],
];

const startsWith = (bytes: Uint8Array, magic: number[]) => magic.every((b, i) => bytes[i] === b);

/** The pickle stream inside a file written by pickle.dump or joblib.dump (compressed or not). */
export function openStream(bytes: Uint8Array, file: string, maxInflated: number): Stream {
  const fail = (problem: string): never => {
    throw new PickleError(file, "byte 0", problem);
  };
  if (bytes.length === 0) fail("the file is empty");
  if (bytes[0] === 0x80) return { bytes, compression: null };
  const zlib = bytes.length >= 2 && (bytes[0] & 0x0f) === 8 && ((bytes[0] << 8) | bytes[1]) % 31 === 0;
  const gzip = startsWith(bytes, [0x1f, 0x8b]);
  if (zlib || gzip) {
    const compression = zlib ? "zlib" : "gzip";
    let out: Uint8Array;
    try {
      out = (zlib ? inflateSync : gunzipSync)(bytes, { maxOutputLength: maxInflated });
    } catch (err) {
      const tooLarge = (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError;
      return fail(tooLarge ? `the ${compression} stream inflates past ${maxInflated} bytes (the reader's limit)` : `the ${compression} stream is damaged: ${(err as Error).message}`);
    }
    if (out.length > maxInflated) fail(`the ${compression} stream inflates past ${maxInflated} bytes (the reader's limit)`);
    if (out.length === 0 || out[0] !== 0x80) fail(`the ${compression} stream does not hold a pickle (expected PROTO 0x80 first)`);
    return { bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), compression };
  }
  const other = UNSUPPORTED.find(([, magic]) => startsWith(bytes, magic));
  if (other) fail(`joblib's ${other[0]} compression is not supported (zlib and gzip are)`);
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return fail(`not a pickle of protocol 2 to 5 (expected 0x80 first) nor a zlib or gzip stream; the file starts ${head}`);
}

export interface WrappedArray {
  dtype: DType;
  shape: number[];
  count: number;
  fortran: boolean;
  /** joblib >= 1.2 pads numeric data to this alignment after a one-byte padding length. */
  aligned: boolean;
}

/** The state dict of a NumpyArrayWrapper: `{subclass, shape, order, dtype, allow_mmap[, numpy_array_alignment_bytes]}`. */
export function wrapperState(state: PickleValue, limit: number, fail: Fail): WrappedArray {
  if (!(state instanceof Map)) return fail(`NumpyArrayWrapper: expected a dict state, got ${describe(state)}`);
  const subclass = state.get("subclass");
  const shape = state.get("shape");
  const order = state.get("order");
  const dtype = state.get("dtype");
  const alignment = state.get("numpy_array_alignment_bytes");
  if (!(subclass instanceof PyGlobal) || subclass.name !== "numpy.ndarray") fail(`NumpyArrayWrapper: subclass ${describe(subclass)} is not numpy.ndarray`);
  if (order !== "C" && order !== "F") fail(`NumpyArrayWrapper: order ${describe(order)} is not "C" or "F"`);
  if (!(dtype instanceof DType) || dtype.byteorder === "=") fail(`NumpyArrayWrapper: expected a built dtype, got ${describe(dtype)}`);
  if (!(alignment === undefined || alignment === null || (typeof alignment === "number" && alignment > 0 && alignment <= 256))) {
    fail(`NumpyArrayWrapper: numpy_array_alignment_bytes ${describe(alignment)} is not a small positive integer`);
  }
  const count = elementCount(shape ?? null, limit, fail);
  return { dtype: dtype as DType, shape: shape as number[], count, fortran: order === "F", aligned: typeof alignment === "number" };
}
