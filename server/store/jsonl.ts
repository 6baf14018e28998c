// An append-only file of JSON lines with group commit: appends are queued in memory and written
// and fsynced together, at most `commitIntervalMs` after the first of them. A line counts as
// stored once the commit that holds it has been fsynced (`durableSeq` has reached its seq); a
// failed commit is cut off the file and retried. Files rewritten whole are replaced atomically.
import { mkdir, open, readFile, rename, rm, truncate, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

export interface ReadResult {
  /** Lines parsed and visited. */
  count: number;
  /** The file's length once a torn last line is cut off. */
  bytes: number;
}

/** Lines parsed between two turns of the event loop: a 64 MiB segment read back while serving must not stall it. */
const LINES_PER_TURN = 2000;

/**
 * Visits every complete line's entry in order, holding no more than the file's text (segments are
 * large: an array of every entry of every segment would not fit a default heap); cuts off a torn
 * tail so that appends continue on a clean line, and says so (as it says lines it skipped).
 * `wanted`: only lines it accepts are parsed (a reader that needs few of them skips the parsing of
 * the rest).
 */
export async function readJsonl<T>(path: string, visit: (entry: T) => void, wanted?: (line: string) => boolean): Promise<ReadResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { count: 0, bytes: 0 };
    throw err;
  }
  const end = text.lastIndexOf("\n") + 1;
  const bytes = Buffer.byteLength(text.slice(0, end));
  const tornBytes = Buffer.byteLength(text.slice(end));
  if (tornBytes > 0) await truncate(path, bytes);
  let count = 0;
  let skipped = 0;
  for (let at = 0, lines = 0; at < end; ) {
    const nl = text.indexOf("\n", at);
    const line = text.slice(at, nl);
    at = nl + 1;
    if (++lines % LINES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    if (!line || (wanted && !wanted(line))) continue;
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
  // Said here, for every reader: what was cut off or skipped, and where.
  if (tornBytes) console.warn(`${path}: dropped a torn last line (${tornBytes} bytes) left by a crash`);
  if (skipped) console.warn(`${path}: skipped ${skipped} unreadable line(s)`);
  return { count, bytes };
}

/** Writes all of `data` at the file's end: a write(2) may write only part of it (a disk filling up). */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const { bytesWritten } = await handle.write(data, at, data.length - at);
    if (bytesWritten === 0) throw new Error(`wrote 0 of ${data.length - at} bytes`);
    at += bytesWritten;
  }
}

/** Fsyncs a directory, so that a rename or a file created in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch (err) {
    // Some platforms cannot fsync a directory; there the rename is as durable as they allow.
    if (!["EISDIR", "EINVAL", "EPERM", "EBADF"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with the given lines: written to `path.tmp`, fsynced, renamed over `path`, the
 * directory fsynced. On any failure the temp file is removed and `path` is left as it was.
 */
export async function replaceJsonl(path: string, entries: Iterable<unknown>): Promise<void> {
  const tmp = `${path}.tmp`;
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(tmp, "w");
  try {
    let chunk: string[] = [];
    let size = 0;
    for (const e of entries) {
      const line = JSON.stringify(e) + "\n";
      chunk.push(line);
      size += line.length;
      if (size >= 1 << 20) {
        await writeAll(handle, Buffer.from(chunk.join("")));
        chunk = [];
        size = 0;
      }
    }
    await writeAll(handle, Buffer.from(chunk.join("")));
    await handle.datasync();
    await handle.close();
    await rename(tmp, path);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new Error(`${path}: not replaced (the original is kept): ${(err as Error).message}`);
  }
  await syncDir(dirname(path));
}

export interface WriterOptions {
  /** Longest wait between an append and the commit that writes it. */
  commitIntervalMs?: number;
  /** After a failed commit, how long until the next attempt. */
  retryMs?: number;
}

/**
 * Group commit with an honest count: a commit writes every queued line and fsyncs; only then do
 * its lines count as durable. A failed commit (ENOSPC, EIO) truncates the file back to the end of
 * the last good commit, so that no partial line is ever followed by good ones, keeps its lines
 * queued and retries every `retryMs` until it succeeds: `error` says what failed meanwhile.
 */
export class JsonlWriter {
  private pending: string[] = [];
  private seq = 0;
  private durable = 0;
  /** While commits fail: the file's length before the first of them, which each retry cuts back to. */
  private cutTo: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private committing: Promise<void> = Promise.resolve();
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;
  private closed = false;
  /** Bytes appended, committed or not: what rotation counts. */
  bytes: number;

  private constructor(
    private handle: FileHandle,
    readonly path: string,
    bytes: number,
    private readonly o: Required<WriterOptions>,
  ) {
    this.bytes = bytes;
  }

  /** Appends to `path`; `bytes` is its size so far, for rotation. `options` as a number: the commit interval. */
  static async open(path: string, options: WriterOptions | number = {}, bytes = 0): Promise<JsonlWriter> {
    await mkdir(dirname(path), { recursive: true });
    const o = typeof options === "number" ? { commitIntervalMs: options } : options;
    return new JsonlWriter(await open(path, "a"), path, bytes, { commitIntervalMs: 10, retryMs: 1000, ...o });
  }

  get appendedSeq(): number {
    return this.seq;
  }

  get durableSeq(): number {
    return this.durable;
  }

  /** The last commit's failure while it has not been retried successfully; null when healthy. */
  get error(): Error | null {
    return this.failure;
  }

  /** Queues a line; returns its sequence number. Never blocks the caller. */
  append(entry: unknown): number {
    return this.appendLine(JSON.stringify(entry));
  }

  /** Queues a line already serialised (one JSON value, no newline). */
  appendLine(json: string): number {
    const line = json + "\n";
    this.pending.push(line);
    this.bytes += Buffer.byteLength(line);
    if (!this.failure) this.timer ??= setTimeout(() => void this.commit(), this.o.commitIntervalMs);
    return ++this.seq;
  }

  /** Resolves once everything appended so far is fsynced (after however many retries that takes). */
  flushed(): Promise<void> {
    if (this.durable >= this.seq) return Promise.resolve();
    if (this.closed) return Promise.reject(this.failure ?? new Error(`${this.path}: closed`));
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
        // A failed commit may have left part of itself: cut the file back to its last good line.
        if (this.cutTo === null) this.cutTo = (await this.handle.stat()).size;
        else await this.handle.truncate(this.cutTo);
        await writeAll(this.handle, Buffer.from(lines.join("")));
        await this.handle.datasync();
        this.cutTo = null;
        this.durable = upTo;
        if (this.failure) console.warn(`${this.path}: writing again after: ${this.failure.message}`);
        this.failure = null;
      } catch (err) {
        this.pending = lines.concat(this.pending);
        if (!this.failure) console.error(`${this.path}: write failed, retrying every ${this.o.retryMs} ms: ${(err as Error).message}`);
        this.failure = new Error(`${this.path}: write failed: ${(err as Error).message}`);
        if (this.cutTo !== null) await this.handle.truncate(this.cutTo).catch(() => undefined);
        if (!this.closed) {
          this.timer = setTimeout(() => void this.commit(), this.o.retryMs);
          (this.timer as { unref?: () => void }).unref?.();
        }
      }
      this.waiters = this.waiters.filter((w) => {
        if (w.seq > this.durable) return true;
        w.resolve();
        return false;
      });
    });
    return this.committing;
  }

  /** Commits what is queued and closes; throws, naming what was lost, if that last commit fails. */
  async close(): Promise<void> {
    await this.commit();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.handle.close();
    if (this.failure) {
      const lost = new Error(`${this.failure.message}; closed with ${this.seq - this.durable} line(s) not written`);
      for (const w of this.waiters.splice(0)) w.reject(lost);
      throw lost;
    }
  }
}
