// Starts that outlive their log segment. Cooldowns are rebuilt at open from the logged
// recommendations, but retention deletes segments long before a cooldown ends (the bundled
// catalog's longest is 180 days; the default retention holds minutes of a busy service). Before a
// segment goes, the starts it holds that still block are appended here, and read back at open
// before the segments. Lines no longer needed (a later start, a cooldown over) are dropped by
// rewriting the file once they are most of it.
import type { CarriedStart } from "./history.ts";
import { JsonlWriter, readJsonl, replaceJsonl } from "./jsonl.ts";

/** Fewer lines than this are never worth a rewrite. */
const MIN_REWRITE_LINES = 10_000;
/** Lines appended between two turns of the event loop. */
const LINES_PER_TURN = 2000;

export class CooldownFile {
  private constructor(
    private writer: JsonlWriter,
    /** Lines in the file. */
    private lines: number,
  ) {}

  /** Reads the file's starts into `visit` and opens it for appending. */
  static async open(path: string, visit: (start: CarriedStart) => void): Promise<CooldownFile> {
    const r = await readJsonl<CarriedStart>(path, visit);
    return new CooldownFile(await JsonlWriter.open(path, { commitIntervalMs: 0 }), r.count);
  }

  /** Appends the starts; resolves once they are durable (a failing write is retried until it succeeds, as the log's are). */
  async add(starts: Iterable<CarriedStart>): Promise<void> {
    let k = 0;
    for (const s of starts) {
      // Tens of thousands at a time, after a busy segment: the requests go on between.
      if (++k % LINES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      this.writer.append(s);
    }
    this.lines += k;
    await this.writer.flushed();
  }

  /** Whether a file with this many lines no longer needed is worth rewriting: they are more than half of it. */
  wasteful(dead: number): boolean {
    return this.lines >= MIN_REWRITE_LINES && 2 * dead > this.lines;
  }

  /** Replaces the file with these starts (atomically: the old file stays if this fails). */
  async rewrite(starts: CarriedStart[]): Promise<void> {
    const path = this.writer.path;
    try {
      await this.writer.close();
      await replaceJsonl(path, starts);
      this.lines = starts.length;
    } finally {
      this.writer = await JsonlWriter.open(path, { commitIntervalMs: 0 });
    }
  }

  async close(): Promise<void> {
    await this.writer.close();
  }
}
