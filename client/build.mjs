// Builds the client package (client/dist): one ES module bundled by esbuild for any platform,
// with tRPC left to the installer, and its type declarations (the API's types come from
// server/contract and the router, which import no server runtime).
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
rmSync(`${here}dist`, { recursive: true, force: true });
await build({
  entryPoints: [`${here}index.ts`],
  outfile: `${here}dist/index.js`,
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["@trpc/client", "@trpc/server", "@trpc/server/*"],
  logLevel: "warning",
});
execFileSync(process.execPath, [fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url)), "-p", `${here}tsconfig.json`], { stdio: "inherit" });
