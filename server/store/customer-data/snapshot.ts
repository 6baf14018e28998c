// A snapshot of the embedded store: a folder of JSON-line parts that together hold the whole
// state as of a segment. It is written under a temporary name, every part fsynced, the folder
// fsynced, then renamed into place and the parent folder fsynced: a snapshot that exists under its
// real name is complete and durable, so a crash at any point leaves the previous state readable.
// Parts stay well under the longest string a JavaScript engine reads a file into.
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";

const PART_BYTES = 32 * 1024 * 1024;

export const partName = (n: number) => `part-${String(n).padStart(5, "0")}.jsonl`;

/** fsyncs a folder, so that a rename or a new file in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `lines` (JSON values, one a line) as the snapshot folder `dir/name`. `lines` may yield
 * between values: the caller's state can go on changing, and what the snapshot misses is replayed
 * from the segments after it.
 */
export async function writeSnapshot(dir: string, name: string, lines: AsyncIterable<unknown> | Iterable<unknown>): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  let part = 0;
  let chunk: string[] = [];
  let bytes = 0;
  const flush = async () => {
    const handle = await open(join(tmp, partName(++part)), "w");
    try {
      await handle.write(chunk.join(""));
      await handle.sync();
    } finally {
      await handle.close();
    }
    chunk = [];
    bytes = 0;
  };
  for await (const value of lines) {
    const line = JSON.stringify(value) + "\n";
    chunk.push(line);
    bytes += line.length;
    if (bytes >= PART_BYTES) await flush();
  }
  if (chunk.length || part === 0) await flush();
  await syncDir(tmp);
  await rename(tmp, join(dir, name));
  await syncDir(dir);
}
