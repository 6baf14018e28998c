// An append-only file of JSON lines with group commit: appends are queued in memory and written
// and fsynced together, at most `commitIntervalMs` after the first of them. A line counts as
// stored once the commit that holds it has been fsynced (`durableSeq` has reached its seq).
import { mkdir, open, readFile, truncate, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

export interface ReadResult {
  /** Lines parsed and visited. */
  count: number;
  /** A torn last line (a write cut short by a crash) was cut off the file. */
  tornBytes: number;
  /** Lines that did not parse (not produced by this writer: left in place, skipped). */
  skipped: number;
  bytes: number;
}

/**
 * Visits every complete line's entry in order, holding no more than the file's text (segments are
 * large: an array of every entry of every segment would not fit a default heap); cuts off a torn
 * tail so that appends continue on a clean line.
 */
export async function readJsonl<T>(path: string, visit: (entry: T) => void): Promise<ReadResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { count: 0, tornBytes: 0, skipped: 0, bytes: 0 };
    throw err;
  }
  const end = text.lastIndexOf("\n") + 1;
  const bytes = Buffer.byteLength(text.slice(0, end));
  const tornBytes = Buffer.byteLength(text.slice(end));
  if (tornBytes > 0) await truncate(path, bytes);
  let count = 0;
  let skipped = 0;
  for (let at = 0; at < end; ) {
    const nl = text.indexOf("\n", at);
    const line = text.slice(at, nl);
    at = nl + 1;
    if (!line) continue;
    let entry: T;
    try {
      entry = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    count++;
    visit(entry);
  }
  return { count, tornBytes, skipped, bytes };
}

export class JsonlWriter {
  private pending: string[] = [];
  private seq = 0;
  private durable = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private committing: Promise<void> = Promise.resolve();
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;
  bytes: number;

  private constructor(
    private handle: FileHandle,
    readonly path: string,
    bytes: number,
    private readonly commitIntervalMs: number,
  ) {
    this.bytes = bytes;
  }

  static async open(path: string, commitIntervalMs = 10, bytes = 0): Promise<JsonlWriter> {
    await mkdir(dirname(path), { recursive: true });
    return new JsonlWriter(await open(path, "a"), path, bytes, commitIntervalMs);
  }

  get appendedSeq(): number {
    return this.seq;
  }

  get durableSeq(): number {
    return this.durable;
  }

  /** Queues a line; returns its sequence number. Never blocks the caller. */
  append(entry: unknown): number {
    const line = JSON.stringify(entry) + "\n";
    this.pending.push(line);
    this.bytes += Buffer.byteLength(line);
    this.timer ??= setTimeout(() => void this.commit(), this.commitIntervalMs);
    return ++this.seq;
  }

  /** Resolves once everything appended so far is fsynced. */
  flushed(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.durable >= this.seq) return Promise.resolve();
    const seq = this.seq;
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  private commit(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.committing = this.committing.then(async () => {
      if (this.pending.length === 0) return;
      const lines = this.pending;
      const upTo = this.seq;
      this.pending = [];
      try {
        await this.handle.write(lines.join(""));
        await this.handle.datasync();
        this.durable = upTo;
      } catch (err) {
        this.failure = new Error(`${this.path}: write failed: ${(err as Error).message}`);
        console.error(this.failure.message);
      }
      this.waiters = this.waiters.filter((w) => {
        if (this.failure) w.reject(this.failure);
        else if (w.seq <= this.durable) w.resolve();
        else return true;
        return false;
      });
    });
    return this.committing;
  }

  async close(): Promise<void> {
    await this.commit();
    await this.handle.close();
  }
}
