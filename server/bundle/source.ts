// Which files a bundle folder serves: a bundle (manifest.json and the files it names), or the
// original design's four pickles (DESIGN section 12), read by the pickle reader into a bundle in
// memory at every load, so hot reload works the same for both.
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { bundledModels } from "../config.ts";
import { isPickleFolder, pickleBundle, type ChurnInput } from "../pickle/import.ts";
import { BundleError, folderSource, memorySource, type BundleSource } from "./load.ts";

export interface SourceOptions {
  /** What the pickled churn model was trained on: the pickles do not say, so a pickle folder needs it. */
  churnInput?: ChurnInput;
}

export async function bundleSource(dir: string, options: SourceOptions = {}): Promise<BundleSource> {
  const hasManifest = await stat(join(dir, "manifest.json")).then((s) => s.isFile(), () => false);
  if (hasManifest || !(await isPickleFolder(dir))) return folderSource(dir);
  if (!options.churnInput) {
    throw new BundleError("churn_model.pkl", "a folder of pickles needs CHURN_INPUT (--churn-input) raw or scaled: whether the churn model was trained on raw or on scaled columns, which the pickle does not record");
  }
  const { files } = await pickleBundle({ from: dir, churnInput: options.churnInput, like: bundledModels() });
  return memorySource(dir, files);
}
