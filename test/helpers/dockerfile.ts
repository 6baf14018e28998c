// The Dockerfile read the way the image is built from it, for the tests that check what it
// declares and run its command: the stages, and the final stage's base, environment, user,
// data volume, health check and command.
import { readFileSync } from "node:fs";

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

export interface Image {
  stages: Stage[];
  /** The final stage: what the image is. */
  final: Stage;
  base: string;
  env: Record<string, string>;
  workdir: string;
  /** USER as written, and as numbers when written so. */
  user: string;
  uid?: number;
  gid?: number;
  volumes: string[];
  /** Exec-form arguments (JSON arrays); a shell-form command is refused. */
  cmd: string[];
  entrypoint?: string[];
  healthcheck?: { options: string; cmd: string[] };
}

/** Instructions with their line continuations joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#") || (line === "" && pending === "")) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = "";
    if (full === "") continue;
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(full)!;
    out.push({ keyword: keyword.toUpperCase(), args });
  }
  return out;
}

function execForm(args: string, what: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new Error(`${what} is not in exec form (a JSON array): ${args}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string")) throw new Error(`${what}: expected an array of strings`);
  return parsed;
}

/** ENV's `KEY=value` pairs (double-quoted values allowed). */
function envPairs(args: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    pairs.push([m[1], m[2].startsWith('"') ? JSON.parse(m[2]) : m[2]]);
  }
  return pairs;
}

export function readDockerfile(path = "Dockerfile"): Image {
  const stages: Stage[] = [];
  for (const ins of instructions(readFileSync(path, "utf8"))) {
    if (ins.keyword === "FROM") {
      const [from, as, name] = ins.args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else {
      if (!stages.length) throw new Error(`${path}: ${ins.keyword} before FROM`);
      stages.at(-1)!.instructions.push(ins);
    }
  }
  const final = stages.at(-1)!;
  const image: Image = { stages, final, base: final.from, env: {}, workdir: "/", user: "root", volumes: [], cmd: [] };
  for (const { keyword, args } of final.instructions) {
    if (keyword === "ENV") for (const [k, v] of envPairs(args)) image.env[k] = v;
    else if (keyword === "WORKDIR") image.workdir = args.startsWith("/") ? args : `${image.workdir.replace(/\/$/, "")}/${args}`;
    else if (keyword === "USER") image.user = args;
    else if (keyword === "VOLUME") image.volumes.push(...(args.startsWith("[") ? execForm(args, "VOLUME") : args.split(/\s+/)));
    else if (keyword === "CMD") image.cmd = execForm(args, "CMD");
    else if (keyword === "ENTRYPOINT") image.entrypoint = execForm(args, "ENTRYPOINT");
    else if (keyword === "HEALTHCHECK") {
      const at = args.indexOf("CMD ");
      if (at < 0) throw new Error(`HEALTHCHECK without CMD: ${args}`);
      image.healthcheck = { options: args.slice(0, at).trim(), cmd: execForm(args.slice(at + 4).trim(), "HEALTHCHECK CMD") };
    }
  }
  const ids = /^(\d+)(?::(\d+))?$/.exec(image.user);
  if (ids) {
    image.uid = Number(ids[1]);
    image.gid = ids[2] === undefined ? undefined : Number(ids[2]);
  }
  return image;
}
