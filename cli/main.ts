#!/usr/bin/env node
// The `churn` command line: one subcommand per file in cli/commands/.
import { readFileSync } from "node:fs";
import { customers } from "./commands/customers.ts";
import { demoDrift } from "./commands/demo.ts";
import { effects } from "./commands/effects.ts";
import { importPicklesCommand } from "./commands/import-pickles.ts";
import { predict } from "./commands/predict.ts";
import { reference } from "./commands/reference.ts";
import { score } from "./commands/score.ts";
import { serve } from "./commands/serve.ts";
import { simulateCommand } from "./commands/simulate.ts";
import { UsageError } from "./commands/common.ts";

const COMMANDS: Record<string, [(argv: string[]) => Promise<void>, string]> = {
  serve: [serve, "run the service (tRPC, REST, WebSocket, console) on the model bundle"],
  predict: [predict, "score a customer CSV, in chunks, against a server or in-process"],
  customers: [customers, "customers import FILE.csv: load an existing customer table into the customer store"],
  score: [score, "evaluate a LightGBM model file on a numeric CSV"],
  effects: [effects, "evaluate a causal-forest export on a CSV of its feature columns"],
  reference: [reference, "write a bundle's reference.json (drift baselines) from a training CSV"],
  "import-pickles": [importPicklesCommand, "convert the original design's four pickles into a bundle (executes nothing from them)"],
  simulate: [simulateCommand, "what the recommendations are worth: realized uplift and policy value vs the ground truth of a customer file"],
  "demo-drift": [demoDrift, "show drift and calibration alerts firing and resolving on sample traffic"],
};

const HELP = `usage: churn <command> [--help]\n       churn --version\n\n${Object.entries(COMMANDS)
  .map(([name, [, what]]) => `  ${name.padEnd(14)} ${what}`)
  .join("\n")}`;

/** The package's version, from the package.json above this file (dist/cli/ when built, cli/ from source). */
function version(): string {
  for (const up of ["../../package.json", "../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8"));
      if (pkg.name === "churn-intervention") return pkg.version;
    } catch {
      // not this one
    }
  }
  return "unknown";
}

// A closed pipe (`churn predict ... | head`) ends the output, not the process with a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const [name, ...rest] = process.argv.slice(2);
if (name === "--version" || name === "-v") {
  console.log(version());
  process.exit(0);
}
if (name === "--help" || name === "-h" || name === "help") {
  console.log(HELP);
  process.exit(0);
}
const command = name ? COMMANDS[name] : undefined;
if (!command) {
  console.error(name ? `unknown command ${JSON.stringify(name)}\n\n${HELP}` : HELP);
  process.exit(2);
}
try {
  await command[0](rest);
} catch (err) {
  console.error(err instanceof UsageError ? err.message : `churn ${name}: ${(err as Error).message}`);
  process.exit(err instanceof UsageError ? 2 : 1);
}
