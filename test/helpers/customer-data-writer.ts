// A child process for the crash test: ingests batches of logins into the embedded customer-data
// store as fast as it can, compacting now and then (so a kill may land mid-snapshot), and prints
// the number of events acknowledged after each batch resolves. Killed with SIGKILL mid-stream.
import { EmbeddedCustomerData } from "../../server/store/customer-data/embedded.ts";

const dir = process.argv[2] ?? (globalThis as { Deno?: { args: string[] } }).Deno?.args[0];
if (!dir) throw new Error("usage: customer-data-writer DIR");
const T0 = Date.parse("2026-01-01T00:00:00Z");
const store = await EmbeddedCustomerData.open(dir, { commitIntervalMs: 1, maxSegmentBytes: 64 * 1024 });
let i = 0;
for (let batch = 1; ; batch++) {
  const events = Array.from({ length: 40 }, () => {
    i++;
    return { event_id: `e${i}`, customer_id: `c${i % 97}`, type: "login" as const, at: new Date(T0 + i * 1000).toISOString() };
  });
  await store.ingest(events);
  console.log(`acknowledged ${i}`);
  // Cutoffs far behind the events: each compaction folds little but writes a whole snapshot.
  if (batch % 10 === 0) void store.compact(T0 - 1000 * 1000 + batch);
}
