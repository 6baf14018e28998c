// The bundle in service, swappable at run time without dropping a request: a request holds the
// bundle it started with until it finishes; a replaced bundle's WASM memory is freed once its
// last request is done. A failed reload leaves the old bundle serving.
import type { WasmCore } from "../wasm/core.ts";
import { loadBundle, type Bundle } from "./load.ts";
import { bundleSource, type SourceOptions } from "./source.ts";

interface Held {
  bundle: Bundle;
  inflight: number;
  retired: boolean;
}

export class BundleHolder {
  private held: Held | null = null;

  constructor(
    readonly dir: string,
    private readonly core: WasmCore,
    private readonly sourceOptions: SourceOptions = {},
  ) {}

  get bundle(): Bundle | null {
    return this.held?.bundle ?? null;
  }

  /** Loads the bundle from `dir` and puts it in service; throws (old bundle kept) on any problem. */
  async reload(): Promise<Bundle> {
    const bundle = await loadBundle(await bundleSource(this.dir, this.sourceOptions), this.core);
    const old = this.held;
    this.held = { bundle, inflight: 0, retired: false };
    if (old) {
      old.retired = true;
      if (old.inflight === 0) old.bundle.dispose();
    }
    return bundle;
  }

  /** Runs `fn` with the current bundle, keeping it alive until `fn` settles. */
  async use<T>(fn: (bundle: Bundle) => T | Promise<T>): Promise<T> {
    const held = this.held;
    if (!held) throw new Error("no model bundle is loaded");
    held.inflight++;
    try {
      return await fn(held.bundle);
    } finally {
      held.inflight--;
      if (held.retired && held.inflight === 0) held.bundle.dispose();
    }
  }

  close(): void {
    if (this.held && this.held.inflight === 0) this.held.bundle.dispose();
    this.held = null;
  }
}
