// The composition root: the service and everything that watches it — durable log, monitor,
// Prometheus metrics, workflow outbox — built once from the configuration and handed to every
// transport. After a restart the monitoring windows are rebuilt from the log.
import { join } from "node:path";
import { Gauge } from "prom-client";
import type { PredictionLog } from "./contract/storage.ts";
import type { Config } from "./config.ts";
import { Monitor, type MonitorOptions } from "./monitor/monitor.ts";
import { PrometheusMetrics } from "./monitor/prometheus.ts";
import { correlationHeaders, requestRecords } from "./observability/access-log.ts";
import { Recommender } from "./service/recommender.ts";
import { DEFAULT_RETENTION_MS } from "./contract/customer-data.ts";
import { customerFileRows } from "./store/customer-file.ts";
import { EmbeddedCustomerData } from "./store/customer-data/embedded.ts";
import { PostgresCustomerData } from "./store/postgres/customer-data.ts";
import { FileLog } from "./store/log.ts";
import { Outbox } from "./store/outbox.ts";

export interface App {
  config: Config;
  service: Recommender;
  monitor: Monitor;
  metrics: PrometheusMetrics;
  log: PredictionLog;
  outbox: Outbox;
  /** Server-side latency of one operation (tRPC path or REST route). */
  observeLatency(operation: string, ms: number): void;
  close(): Promise<void>;
}

/** CUSTOMERS_FILE: its rows imported into the customer store (a row the bundle refuses is said, with its line, and skipped). */
async function importCustomerFile(service: Recommender, path: string): Promise<void> {
  for await (const chunk of customerFileRows(path, service.health().bundle!.fields)) {
    const { rejected } = await service.importCustomers({ rows: chunk.map((c) => c.row) });
    for (const r of rejected) console.warn(`${path} line ${chunk[r.index].line}: row skipped: ${r.issues.map((i) => `${i.path.slice(2).join(".")}: ${i.message}`).join("; ")}`);
  }
}

export async function createApp(config: Config, monitorOptions: MonitorOptions = {}): Promise<App> {
  const customers = config.databaseUrl
    ? await PostgresCustomerData.connect(config.databaseUrl)
    : await EmbeddedCustomerData.open(join(config.dataDir, "customers"));
  // The outbox is rebuilt from its delivery state and the log, whose lines are its entries.
  const outbox = await Outbox.open(join(config.dataDir, "outbox"), { url: config.webhookUrl, concurrency: config.webhookConcurrency });
  const log = await FileLog.open(join(config.dataDir, "log"), {
    maxSegments: config.logSegments, maxSegmentBytes: config.logSegmentBytes, workflow: outbox, correlation: correlationHeaders,
    outcomeCustomerWindowMs: config.outcomeCustomerWindowDays * 86_400_000,
  });
  await outbox.start(log);
  const monitor = new Monitor(monitorOptions);
  monitor.watchWorkflow(() => outbox.status());
  const metrics = new PrometheusMetrics(monitor, (registry) => {
    new Gauge({ name: "churn_log_durable_records", help: "Records fsynced to the prediction log", registers: [registry], collect() { this.set(log.durableSeq); } });
    new Gauge({ name: "churn_log_pending_records", help: "Records appended but not yet fsynced", registers: [registry], collect() { this.set(log.appendedSeq - log.durableSeq); } });
    new Gauge({ name: "churn_log_write_ok", help: "1 while the prediction log can write, 0 while its commits fail (predictions are refused)", registers: [registry], collect() { this.set(log.writeError ? 0 : 1); } });
    new Gauge({
      name: "churn_workflow_entries", help: "Intervention workflow outbox entries by state", labelNames: ["state"], registers: [registry],
      collect() {
        const s = outbox.status();
        for (const state of ["pending", "retrying", "delivered", "dead", "recorded"] as const) this.set({ state }, s[state]);
      },
    });
  });
  const service = await Recommender.open({
    modelsDir: config.modelsDir,
    churnInput: config.churnInput,
    customers,
    triggers: config.triggers,
    history: log,
    log,
    observers: config.monitoring ? [log, monitor, metrics, requestRecords] : [],
    maxBatchCustomers: config.maxBatchCustomers,
    overrides: { threshold: config.threshold, holdout: config.holdout, holdoutSalt: config.holdoutSalt },
    replica: config.replicaId,
    onBundle: (bundle) => monitor.setBundle(bundle.version, bundle.reference, config.holdout ?? bundle.manifest.decision.holdout),
  });
  if (config.customersFile) await importCustomerFile(service, config.customersFile);
  // Events older than the longest window plus a margin are folded into per-customer summaries.
  const compact = () => customers.compact(Date.now() - DEFAULT_RETENTION_MS).catch((err) => console.error(`customer data compaction failed: ${(err as Error).message}`));
  const compaction = setInterval(compact, 3_600_000);
  compaction.unref?.();
  const { predictions, outcomes } = log.recent();
  monitor.replay(predictions, outcomes);
  // Alerts move when the monitor is evaluated: once a second, whether or not anyone is watching.
  const evaluation = config.monitoring ? setInterval(() => monitor.snapshot(), 1000) : undefined;
  return {
    config,
    service,
    monitor,
    metrics,
    log,
    outbox,
    observeLatency(operation, ms) {
      if (!config.monitoring) return;
      monitor.observeLatency(operation, ms);
      metrics.observeLatency(operation, ms);
    },
    async close() {
      clearInterval(evaluation);
      clearInterval(compaction);
      service.close();
      await Promise.all([log.close(), outbox.close(), customers.close()]);
    },
  };
}
