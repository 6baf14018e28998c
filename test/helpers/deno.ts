// Runs a script under Deno (the `deno` dev dependency's own executable, not its Node wrapper, so
// that signals reach the Deno process itself).
import { createRequire } from "node:module";

export function denoExecutable(): string {
  const require = createRequire(import.meta.url);
  return require("deno/install_api.cjs").runInstall();
}

export function denoCommand(args: string[]): [string, string[]] {
  return [denoExecutable(), ["run", "-A", "--quiet", ...args]];
}
