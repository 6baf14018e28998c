#!/usr/bin/env node
// The `churn` command line: one subcommand per file in cli/commands/.
import { demoDrift } from "./commands/demo.ts";
import { effects } from "./commands/effects.ts";
import { predict } from "./commands/predict.ts";
import { reference } from "./commands/reference.ts";
import { score } from "./commands/score.ts";
import { serve } from "./commands/serve.ts";
import { UsageError } from "./commands/common.ts";

const COMMANDS: Record<string, [(argv: string[]) => Promise<void>, string]> = {
  serve: [serve, "run the service (tRPC, REST, WebSocket, console) on the model bundle"],
  predict: [predict, "score a customer CSV, in chunks, against a server or in-process"],
  score: [score, "evaluate a LightGBM model file on a numeric CSV"],
  effects: [effects, "evaluate a causal-forest export on a CSV of its feature columns"],
  reference: [reference, "write a bundle's reference.json (drift baselines) from a training CSV"],
  "demo-drift": [demoDrift, "show drift and calibration alerts firing and resolving on sample traffic"],
};

const HELP = `usage: churn <command> [--help]\n\n${Object.entries(COMMANDS)
  .map(([name, [, what]]) => `  ${name.padEnd(10)} ${what}`)
  .join("\n")}`;

const [name, ...rest] = process.argv.slice(2);
const command = name ? COMMANDS[name] : undefined;
if (!command) {
  console.error(name && name !== "--help" ? `unknown command ${JSON.stringify(name)}\n\n${HELP}` : HELP);
  process.exit(name && name !== "--help" ? 2 : 0);
}
try {
  await command[0](rest);
} catch (err) {
  console.error(err instanceof UsageError ? err.message : `churn ${name}: ${(err as Error).message}`);
  process.exit(err instanceof UsageError ? 2 : 1);
}
