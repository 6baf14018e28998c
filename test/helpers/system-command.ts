// A command from a Debian package that a test needs (promtool, haproxy): used if on PATH, else installed by
// the test itself where it can be (root with apt-get, as in CI), else the reason it cannot, for the
// test to skip saying so. `npm test` needs nothing installed by hand.
import { spawnSync } from "node:child_process";

// Whether `command` runs; `versionFlag` is one that exits 0 (haproxy knows only -v; --version exits 1).
const has = (command: string, versionFlag: string) => spawnSync(command, [versionFlag], { stdio: "ignore" }).status === 0;

/** null when `command` is ready; otherwise why it is not. */
export function ensureCommand(command: string, debianPackage: string, versionFlag = "--version"): string | null {
  if (has(command, versionFlag)) return null;
  if (process.getuid?.() !== 0 || spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) {
    return `${command} is not installed and cannot be installed here (needs root and apt-get: apt-get install ${debianPackage})`;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", debianPackage]]) {
    const r = spawnSync("apt-get", args, { env, encoding: "utf8", timeout: 300_000 });
    if (r.status !== 0) return `apt-get ${args[0]} for ${debianPackage} failed: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`;
  }
  return has(command, versionFlag) ? null : `${debianPackage} installed, but ${command} is still not on PATH`;
}
