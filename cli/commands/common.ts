// What the CLI's commands share: argument parsing with usage errors (exit code 2), CSV
// reading and writing, and a progress bar for terminals.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";

export class UsageError extends Error {}

export function args<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T, usage: string) {
  try {
    const { values } = parseArgs({ args: argv, options: { ...options, help: { type: "boolean" } }, strict: true, allowPositionals: false });
    if ((values as { help?: boolean }).help) {
      console.log(usage);
      process.exit(0);
    }
    return values as { [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string };
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${usage}`);
  }
}

export function required(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value === "") throw new UsageError(`missing ${flag}\n\n${usage}`);
  return value;
}

export function readCsv(path: string): Record<string, string>[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parse(text, { columns: true, skip_empty_lines: true });
  } catch (err) {
    throw new UsageError(`${path}: not a CSV with a header row: ${(err as Error).message}`);
  }
}

export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Lines to a file, or to stdout without one. */
export function lineWriter(path: string | undefined): { write(line: string): void; close(): Promise<void> } {
  if (!path) {
    return { write: (l) => void process.stdout.write(l + "\n"), close: async () => {} };
  }
  const out = createWriteStream(path);
  return {
    write: (l) => void out.write(l + "\n"),
    close: () => new Promise((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve()))),
  };
}

/** A progress bar on stderr when it is a terminal; silent otherwise. */
export function progress(total: number): { update(done: number): void; finish(): void } {
  const tty = process.stderr.isTTY === true;
  return {
    update(done) {
      if (!tty) return;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      process.stderr.write(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total}`);
    },
    finish() {
      if (tty) process.stderr.write("\n");
    },
  };
}

/** Lines with content, counted as the file streams by (for the progress bar; any size of file). */
export async function nonBlankLines(path: string): Promise<number> {
  let lines = 0;
  let content = false;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (const byte of chunk) {
      if (byte === 10) {
        if (content) lines++;
        content = false;
      } else if (byte !== 13 && byte !== 32 && byte !== 9) {
        content = true;
      }
    }
  }
  return content ? lines + 1 : lines;
}
