// A crash test's writer: a Deno child that prints "acked N" lines as records become durable, killed
// with SIGKILL once it has acknowledged `upTo`. Returns how many it acknowledged.
import { spawn } from "node:child_process";
import { denoCommand } from "./deno.ts";

export async function writeThenKill(script: string, args: string[], upTo: number): Promise<number> {
  const [cmd, argv] = denoCommand([script, ...args]);
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "inherit"] });
  let acknowledged = 0;
  await new Promise<void>((resolve, reject) => {
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const l of lines) acknowledged = Math.max(acknowledged, Number(l.split(" ")[1]));
      if (acknowledged >= upTo) {
        child.kill("SIGKILL");
        resolve();
      }
    });
    child.on("exit", (code) => (acknowledged >= upTo ? resolve() : reject(new Error(`${script} exited early (${code})`))));
  });
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once("exit", r));
  return acknowledged;
}
