// The evaluators every conformance suite runs: the WebAssembly core and the TypeScript reference.
import { readFileSync } from "node:fs";
import { parseLightGBM } from "../../server/model/lightgbm/parse.ts";
import { ReferenceGbdt } from "../../server/model/lightgbm/reference.ts";
import { readCausalForest } from "../../server/model/causal/load.ts";
import { ReferenceForest } from "../../server/model/causal/reference.ts";
import type { GbdtEvaluator, ForestEvaluator } from "../../server/model/evaluator.ts";
import type { LgbModel } from "../../server/model/lightgbm/model.ts";
import type { CausalForest } from "../../server/model/causal/model.ts";
import { WasmCore } from "../../server/wasm/core.ts";
import { WasmGbdt } from "../../server/wasm/gbdt.ts";
import { WasmForest } from "../../server/wasm/forest.ts";
import { fixturePath, readText } from "./fixtures.ts";

let core: Promise<WasmCore> | undefined;
export function sharedCore(): Promise<WasmCore> {
  core ??= WasmCore.load();
  return core;
}

export const gbdtEvaluators: Record<string, (m: LgbModel) => Promise<GbdtEvaluator>> = {
  wasm: async (m) => WasmGbdt.create(await sharedCore(), m),
  reference: async (m) => new ReferenceGbdt(m),
};

export const forestEvaluators: Record<string, (f: CausalForest) => Promise<ForestEvaluator>> = {
  wasm: async (f) => WasmForest.create(await sharedCore(), f),
  reference: async (f) => new ReferenceForest(f),
};

export function fixtureModel(name: string): LgbModel {
  return parseLightGBM(readText("lightgbm", name, "model.txt"), `lightgbm/${name}/model.txt`);
}

export function fixtureForest(): CausalForest {
  return readCausalForest(readFileSync(fixturePath("causal_forest", "causal_forest.safetensors")), "causal_forest.safetensors");
}
