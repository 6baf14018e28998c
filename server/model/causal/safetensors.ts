// A reader of the safetensors container: 8-byte little-endian header length N, N bytes of JSON
// (tensor name -> {dtype, shape, data_offsets}, plus "__metadata__"), then the tensor bytes back
// to back. Everything is checked before use; problems name the file and the tensor.
import { ModelFormatError } from "../errors.ts";

type TypedArray = Float64Array | Float32Array | Int32Array | Uint8Array | BigInt64Array;

const DTYPES: Record<string, { bytes: number; make: (b: ArrayBuffer, o: number, n: number) => TypedArray }> = {
  F64: { bytes: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  F32: { bytes: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  I32: { bytes: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  I64: { bytes: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  U8: { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
};

export interface Tensor {
  dtype: string;
  shape: number[];
  data: TypedArray;
}

export interface Safetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const MAX_HEADER = 100 * 1024 * 1024;

export function readSafetensors(bytes: Uint8Array, source: string): Safetensors {
  const fail = (where: string, problem: string): never => {
    throw new ModelFormatError(source, where, problem);
  };
  if (bytes.length < 8) fail("header", `expected at least 8 bytes (the header length); the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > bytes.length) {
    fail("header", `header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    fail("header", `expected a UTF-8 JSON object: ${(err as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header", "expected a JSON object");
  const entries = header as Record<string, unknown>;
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors = new Map<string, Tensor>();
  for (const [name, raw] of Object.entries(entries)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== "string")) {
        fail("__metadata__", "expected an object of string values");
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `tensor ${name}`;
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== "object" || t === null) fail(where, "expected {dtype, shape, data_offsets}");
    const dtype = DTYPES[String(t.dtype)];
    if (!dtype) fail(where, `unsupported dtype ${JSON.stringify(t.dtype)}; expected one of ${Object.keys(DTYPES).join(", ")}`);
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(where, `expected shape as a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offsets = t.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0) || offsets[0] > offsets[1]) {
      fail(where, `expected data_offsets [begin, end], got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (end > dataLength) fail(where, `data_offsets [${begin}, ${end}] run past the data section (${dataLength} bytes)`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * dtype.bytes) {
      fail(where, `shape ${JSON.stringify(shape)} of ${String(t.dtype)} needs ${count * dtype.bytes} bytes, data_offsets give ${end - begin}`);
    }
    spans.push({ name, begin, end });
    // Copy into an aligned buffer: typed arrays need aligned offsets, the file doesn't promise them.
    // (Not bytes.slice: a Node Buffer's slice is a view.)
    const copy = new Uint8Array(end - begin);
    copy.set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { dtype: String(t.dtype), shape: shape as number[], data: dtype.make(copy.buffer, 0, count) });
  }
  spans.sort((a, b) => a.begin - b.begin);
  let at = 0;
  for (const s of spans) {
    if (s.begin !== at) {
      fail(`tensor ${s.name}`, s.begin < at ? `data overlaps the previous tensor (begins at ${s.begin}, previous ends at ${at})` : `hole in the data section before it (${at}..${s.begin})`);
    }
    at = s.end;
  }
  if (at !== dataLength) fail("data", `the tensors cover ${at} bytes of a ${dataLength}-byte data section`);
  return { tensors, metadata };
}
