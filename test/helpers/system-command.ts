// A command from a Debian package that a test needs (promtool): used if on PATH, else installed by
// the test itself where it can be (root with apt-get, as in CI), else the reason it cannot, for the
// test to skip saying so. `npm test` needs nothing installed by hand.
import { spawnSync } from "node:child_process";

const has = (command: string) => spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;

/** null when `command` is ready; otherwise why it is not. */
export function ensureCommand(command: string, debianPackage: string): string | null {
  if (has(command)) return null;
  if (process.getuid?.() !== 0 || spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) {
    return `${command} is not installed and cannot be installed here (needs root and apt-get: apt-get install ${debianPackage})`;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", debianPackage]]) {
    const r = spawnSync("apt-get", args, { env, encoding: "utf8", timeout: 300_000 });
    if (r.status !== 0) return `apt-get ${args[0]} for ${debianPackage} failed: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`;
  }
  return has(command) ? null : `${debianPackage} installed, but ${command} is still not on PATH`;
}
