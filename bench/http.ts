// The service over HTTP, next to a bare node:http hello-world served the same way in the same
// run: single predictions over REST (keep-alive) at a constant 2,000 req/s and through the typed
// tRPC client at a constant rate (latency), flat out with autocannon (throughput), with and
// without the monitoring/log observers; /batch-predict customers/s.
// The tRPC client (httpBatchLink over fetch) costs its caller 0.7-0.9 ms of CPU per call on
// Node 20, so at 2,000 calls/s the load generator alone would fill a core and measure
// itself: it runs at TRPC_RATE, and every row shows the generator's own CPU per request.
// Every request is a distinct customer (the seed example's features): each one at risk gets a
// recommendation, a cooldown and a workflow entry, as real traffic would. Servers run in child
// processes so the load generator does not share their event loop; their CPU time per request is
// read from /proc (Linux) around each measured run.
import { createChurnClient } from "../client/index.ts";
import { readCsvRecords } from "../test/helpers/customers.ts";
import { SEED_REQUEST } from "../test/helpers/server.ts";
import { batchPredict, fixedRateRow, flatOut, flatRow, nextCustomer, restSender, RUNS, start, startService, stop, type Send, type Server } from "./load.ts";
import { percentiles, printTable, type BenchRow } from "./table.ts";

const HELLO = `require("node:http").createServer((q, s) => { q.resume(); q.on("end", () => s.end('{"ok":true}')); }).listen(0, "127.0.0.1", function () { console.log("listening on http://127.0.0.1:" + this.address().port); });`;
const RATE = 2000;
const TRPC_RATE = 500;

function service(monitoring: "on" | "off"): Promise<Server> {
  return startService(["--monitoring", monitoring]);
}

function trpcSender(url: string): { send: Send; close: () => void } {
  const client = createChurnClient(url);
  const send: Send = (n) => client.predict.mutate({ ...SEED_REQUEST, customer_id: `CUST-${n}` }).then(() => true, () => false);
  return { send, close: () => client.close() };
}

export default async function run(): Promise<void> {
  const hello = await start(["-e", HELLO]);
  const on = await service("on");
  const off = await service("off");
  try {
    const hello2000 = await fixedRateRow("hello-world", hello, restSender(`${hello.url}/`), RATE);
    const hello500 = await fixedRateRow("hello-world", hello, restSender(`${hello.url}/`), TRPC_RATE);
    let rest500: BenchRow | undefined;
    let trpc500: BenchRow | undefined;
    printTable(`Single predictions at a constant rate (open loop, keep-alive; ${RUNS} runs of 5 s after a 2 s warm-up)`, [
      hello2000,
      await fixedRateRow("REST POST /predict", on, restSender(`${on.url}/predict`), RATE, hello2000),
      await fixedRateRow("REST POST /predict, monitoring off", off, restSender(`${off.url}/predict`), RATE, hello2000),
      hello500,
      // REST at the tRPC rate too: a server's CPU per request depends on the rate (its once-a-second
      // work is shared by fewer requests), so tRPC is compared with REST at the same rate.
      (rest500 = await fixedRateRow("REST POST /predict", on, restSender(`${on.url}/predict`), TRPC_RATE, hello500)),
      (trpc500 = await fixedRateRow("tRPC client predict (httpBatchLink)", on, trpcSender(on.url), TRPC_RATE, hello500)),
    ]);

    const h = await flatOut(hello, "/");
    printTable("Flat out: autocannon, 50 connections, keep-alive, 5 s", [
      flatRow("hello-world", h),
      flatRow("REST POST /predict", await flatOut(on, "/predict"), h),
      flatRow("REST POST /predict, monitoring off", await flatOut(off, "/predict"), h),
    ]);

    // The typed client flat out: 32 calls in flight, batched by httpBatchLink, for 5 s.
    const client = createChurnClient(on.url);
    const samples: number[] = [];
    const end = performance.now() + 5000;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          await client.predict.mutate({ ...SEED_REQUEST, customer_id: `CUST-${nextCustomer()}` });
          samples.push(performance.now() - t0);
        }
      }),
    );
    client.close();
    const p = percentiles(samples);
    printTable("tRPC client flat out (httpBatchLink), 32 concurrent calls", [
      { "calls/s": Math.round(samples.length / 5), "p50 ms": p.p50, "p99 ms": p.p99, "vs hello-world": `${(samples.length / 5 / h.requests.average).toFixed(2)}x` },
    ]);

    const customers = readCsvRecords(1000);
    const batch = await batchPredict(on.url, () => customers, 1, 5);
    printTable("POST /batch-predict, 1,000 customers a call", [{ "customers/s": batch.customersPerSecond }]);
    const cpu = (row: BenchRow | undefined) => row?.["server CPU µs/req"];
    const [restCpu, trpcCpu] = [cpu(rest500), cpu(trpc500)];
    if (typeof restCpu === "number" && typeof trpcCpu === "number") {
      console.log(`\ntRPC predict costs the server ${(trpcCpu / restCpu).toFixed(2)}x a REST call at ${TRPC_RATE} req/s (target <= 1.5x).`);
    }
    console.log(`Targets: p99 <= 2 ms and <= 80 µs of server CPU per request at ${RATE.toLocaleString("en-US")} req/s; /batch-predict >= 100,000 customers/s.`);
  } finally {
    await Promise.all([hello, on, off].map((s) => stop(s)));
  }
}
