// How `npm start` runs the service (package.json's start script): node, the flags it gives node,
// then the command line. The image's CMD is held to it (test/container.test.ts) and the benchmark
// starts its servers with the same flags, so all three run the service alike.
import { readFileSync } from "node:fs";

const CLI = ["dist/cli/main.js", "serve"];

/** The node flags of `npm start`; throws if its script is not `exec node [flags] dist/cli/main.js serve`. */
export function startNodeFlags(packageJson = "package.json"): string[] {
  const script: string = JSON.parse(readFileSync(packageJson, "utf8")).scripts.start;
  const words = script.trim().split(/\s+/);
  const flags = words.slice(2, -CLI.length);
  if (words[0] !== "exec" || words[1] !== "node" || words.slice(-CLI.length).join(" ") !== CLI.join(" ") || flags.some((f) => !f.startsWith("--"))) {
    throw new Error(`${packageJson}: scripts.start: expected "exec node [--flag ...] ${CLI.join(" ")}", got ${JSON.stringify(script)}`);
  }
  return flags;
}
