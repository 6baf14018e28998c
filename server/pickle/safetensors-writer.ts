// Writes a safetensors container laid out as the fixture forest (shared
// fixtures/causal_forest/causal_forest.safetensors): the header lists the tensors in the given
// order and then "__metadata__", as compact JSON with Python's ASCII escapes; spaces pad the header
// so that the data starts 8-byte aligned; the tensors follow back to back, little-endian.
import { pyJsonString } from "./python-text.ts";

export interface TensorOut {
  name: string;
  dtype: "I32" | "F64";
  shape: number[];
  data: Int32Array | Float64Array;
}

export function writeSafetensors(tensors: TensorOut[], metadata: [string, string][]): Uint8Array {
  let offset = 0;
  const entries = tensors.map((t) => {
    const begin = offset;
    offset += t.data.byteLength;
    return `${pyJsonString(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${begin},${offset}]}`;
  });
  const meta = metadata.map(([k, v]) => `${pyJsonString(k)}:${pyJsonString(v)}`).join(",");
  let header = `{${entries.join(",")},"__metadata__":{${meta}}}`;
  header += " ".repeat((8 - ((8 + header.length) % 8)) % 8);
  // The header is ASCII (every other character is escaped), so its length is its byte count.
  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  for (let i = 0; i < header.length; i++) out[8 + i] = header.charCodeAt(i);
  let at = 8 + header.length;
  for (const t of tensors) {
    // Typed arrays are in the host's byte order, little-endian on every platform Node and Deno run on.
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
