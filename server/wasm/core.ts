// Owns the one WebAssembly instance and its linear memory.
// When the memory grows the old ArrayBuffer is detached and views made before read as empty: a
// view is made fresh from `memory.buffer` at the moment of use, or (`heapF64`) kept until the
// memory grows.
import { readFile } from "node:fs/promises";
import { instantiate } from "../../build/core.js";

export type CoreExports = Awaited<ReturnType<typeof instantiate>>;

const WASM_URL = new URL("../../build/core.wasm", import.meta.url);

export class WasmCore {
  private heap: Float64Array | null = null;

  private constructor(readonly exports: CoreExports) {}

  /** Compiles the module (from `bytes`, else the built `build/core.wasm`) and instantiates it. */
  static async load(bytes?: BufferSource): Promise<WasmCore> {
    let source = bytes;
    if (!source) {
      try {
        source = await readFile(WASM_URL);
      } catch (err) {
        throw new Error(`cannot read the WebAssembly core ${WASM_URL.pathname}: ${(err as Error).message} (run \`npm run build\`)`);
      }
    }
    const module = await WebAssembly.compile(source);
    return new WasmCore(await instantiate(module, { env: {} }));
  }

  get buffer(): ArrayBuffer {
    return this.exports.memory.buffer;
  }

  /** Allocates `bytes` (16-byte aligned). Throws instead of returning a null pointer. */
  alloc(bytes: number): number {
    const ptr = this.exports.alloc(Math.max(bytes, 8));
    if (ptr === 0) throw new Error(`WebAssembly core: out of memory allocating ${bytes} bytes`);
    return ptr;
  }

  free(ptr: number): void {
    if (ptr !== 0) this.exports.free(ptr);
  }

  /**
   * All of the memory as f64s (index = byte address / 8), made again only after the memory grew:
   * a single-row call then copies in and out without making a view each time.
   */
  heapF64(): Float64Array {
    // A grown memory detaches the old buffer, and a view of a detached buffer has length 0: that
    // test costs less than reading `memory.buffer` (a call into the runtime) on every use.
    if (this.heap === null || this.heap.length === 0) this.heap = new Float64Array(this.buffer);
    return this.heap;
  }

  /** Copies `values` to the 8-byte aligned address `ptr`. */
  putF64(ptr: number, values: Float64Array): void {
    this.heapF64().set(values, ptr >>> 3);
  }

  /** A copy of the `length` f64s at the 8-byte aligned address `ptr`. */
  takeF64(ptr: number, length: number): Float64Array {
    const at = ptr >>> 3;
    const heap = this.heapF64();
    // A loop, not `slice`: slicing a view of the whole memory cost a single row's call ~0.06 µs
    // more than this copy (2% of a churn_model row), and a batch's output copies in microseconds.
    const out = new Float64Array(length);
    for (let i = 0; i < length; i++) out[i] = heap[at + i];
    return out;
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.buffer, ptr, length);
  }

  /** Copies a host array into fresh WASM memory and returns its pointer (caller frees). */
  copyIn(src: Float64Array | Int32Array | Uint32Array | Uint8Array): number {
    const ptr = this.alloc(src.byteLength);
    new Uint8Array(this.buffer, ptr, src.byteLength).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
    return ptr;
  }
}

/**
 * A growable scratch block in WASM memory, reused across calls so that the hot path does not
 * allocate: `ensure(bytes)` returns a pointer to at least that many bytes.
 */
export class Scratch {
  private ptr = 0;
  private capacity = 0;

  constructor(private readonly core: WasmCore) {}

  ensure(bytes: number): number {
    if (bytes > this.capacity) {
      this.core.free(this.ptr);
      this.capacity = Math.max(bytes, this.capacity * 2, 1024);
      this.ptr = this.core.alloc(this.capacity);
    }
    return this.ptr;
  }

  release(): void {
    this.core.free(this.ptr);
    this.ptr = 0;
    this.capacity = 0;
  }
}

/**
 * The WASM memory one model's evaluator holds: its layout, copied in once; its header; its
 * scratch blocks. `dispose()` frees all of it together, and `check()` refuses use after that.
 */
export class ModelMemory {
  private readonly blocks: number[] = [];
  private readonly scratches: Scratch[] = [];
  private disposed = false;

  constructor(
    private readonly core: WasmCore,
    /** The model file, named in the error of a use after dispose. */
    private readonly source: string,
  ) {}

  /** Copies `src` in (null: nothing, pointer 0). */
  copy(src: Float64Array | Int32Array | Uint32Array | Uint8Array | null): number {
    if (src === null) return 0;
    const ptr = this.core.copyIn(src);
    this.blocks.push(ptr);
    return ptr;
  }

  /** A header of `bytes`, its fields written little-endian by `write` (before anything else allocates). */
  header(bytes: number, write: (set: { i32(offset: number, v: number): void; f64(offset: number, v: number): void }) => void): number {
    const ptr = this.core.alloc(bytes);
    this.blocks.push(ptr);
    const view = new DataView(this.core.buffer, ptr, bytes);
    write({ i32: (o, v) => view.setInt32(o, v, true), f64: (o, v) => view.setFloat64(o, v, true) });
    return ptr;
  }

  scratch(): Scratch {
    const s = new Scratch(this.core);
    this.scratches.push(s);
    return s;
  }

  check(): void {
    if (this.disposed) throw new Error(`${this.source}: evaluator used after dispose()`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const ptr of this.blocks) this.core.free(ptr);
    for (const s of this.scratches) s.release();
  }
}
