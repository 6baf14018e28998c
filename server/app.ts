// The composition root: the service and everything that watches it — durable log, monitor,
// Prometheus metrics, workflow outbox — built once from the configuration and handed to every
// transport. Shared state lives in one of two stores behind the same interfaces: embedded files
// in DATA_DIR for one process, or PostgreSQL (DATABASE_URL) for any number of replicas, whose
// monitors are then fed the fleet's predictions, outcomes and alerts from the database.
import { join } from "node:path";
import { Gauge } from "prom-client";
import type { Bundle } from "./bundle/load.ts";
import { cooldownMs } from "./contract/bundle.ts";
import type { CustomerData } from "./contract/customer-data.ts";
import type { PredictionObserver } from "./contract/records.ts";
import type { InterventionHistory, PredictionLog, WorkflowStatus } from "./contract/storage.ts";
import type { Config } from "./config.ts";
import { Monitor, type MonitorOptions } from "./monitor/monitor.ts";
import { PrometheusMetrics } from "./monitor/prometheus.ts";
import { correlationHeaders, requestRecords } from "./observability/access-log.ts";
import { Recommender } from "./service/recommender.ts";
import { DEFAULT_RETENTION_MS } from "./contract/customer-data.ts";
import { customerFileRows } from "./store/customer-file.ts";
import { EmbeddedCustomerData } from "./store/customer-data/embedded.ts";
import { FileLog } from "./store/log.ts";
import { Outbox } from "./store/outbox.ts";
import { Database } from "./store/postgres/connect.ts";
import { PostgresInterventionHistory } from "./store/postgres/cooldowns.ts";
import { PostgresCustomerData } from "./store/postgres/customer-data.ts";
import { FleetFeed } from "./store/postgres/fleet.ts";
import { PostgresLog } from "./store/postgres/log.ts";
import { PostgresOutbox } from "./store/postgres/outbox.ts";

export interface App {
  config: Config;
  service: Recommender;
  monitor: Monitor;
  metrics: PrometheusMetrics;
  log: PredictionLog;
  outbox: { status(): WorkflowStatus };
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

/** The shared state of one store, and how the monitor is fed from it. */
interface Stores {
  customers: CustomerData;
  log: PredictionLog;
  history: InterventionHistory;
  outbox: { status(): WorkflowStatus; close(): Promise<void> };
  /** Observers of this process's answers that feed the monitor (embedded); none when the store feeds it (PostgreSQL). */
  monitorObservers: PredictionObserver[];
  /** Fills the monitor's windows from the store (once the bundle's reference has set them up), and keeps them fed if the store does. */
  feedMonitor(): Promise<void>;
  /** A bundle was loaded: the store keeps each start until its intervention's cooldown is over; absent: the database keeps them. */
  setBundle?(bundle: Bundle): void;
  /** Customers this process keeps state about (a retained prediction, a start in cooldown); absent: the database keeps it. */
  customersKept?(): number;
  close(): Promise<void>;
}

/** Files in DATA_DIR, for one process: the monitor watches this process's answers, rebuilt from the log at start. */
async function embeddedStores(config: Config, monitor: Monitor): Promise<Stores> {
  const customers = await EmbeddedCustomerData.open(join(config.dataDir, "customers"));
  // The outbox is rebuilt from its delivery state and the log, whose lines are its entries.
  const outbox = await Outbox.open(join(config.dataDir, "outbox"), { url: config.webhookUrl, concurrency: config.webhookConcurrency });
  const log = await FileLog.open(join(config.dataDir, "log"), {
    maxSegments: config.logSegments, maxSegmentBytes: config.logSegmentBytes, workflow: outbox, correlation: correlationHeaders,
    outcomeCustomerWindowMs: config.outcomeCustomerWindowDays * 86_400_000,
  });
  await outbox.start(log);
  return {
    customers, log, history: log, outbox, monitorObservers: [monitor],
    setBundle: (bundle) => log.setCooldowns(new Map(bundle.interventions.map((iv) => [iv.name, cooldownMs(iv)]))),
    customersKept: () => log.customerCount,
    async feedMonitor() {
      const { predictions, outcomes } = log.recent();
      monitor.replay(predictions, outcomes);
    },
    close: async () => void (await Promise.all([log.close(), outbox.close(), customers.close()])),
  };
}

/** PostgreSQL, shared by every replica: the monitor reads the fleet's predictions, outcomes and alerts from it. */
async function postgresStores(config: Config, url: string, monitor: Monitor, feed: { current?: FleetFeed }): Promise<Stores> {
  const db = await Database.connect(url, { poolSize: config.databasePoolSize });
  const customers = new PostgresCustomerData(db);
  const log = new PostgresLog(db, config.replicaId, {
    outcomeCustomerWindowMs: config.outcomeCustomerWindowDays * 86_400_000, retentionMs: config.logRetentionDays * 86_400_000,
  });
  const outbox = new PostgresOutbox(db, config.replicaId, { url: config.webhookUrl, concurrency: config.webhookConcurrency });
  await outbox.start();
  return {
    customers, log, history: new PostgresInterventionHistory(db, correlationHeaders), outbox, monitorObservers: [],
    async feedMonitor() {
      feed.current = await FleetFeed.open(db, { onPredictions: (r) => monitor.onPredictions(r), onOutcomes: (o) => monitor.onOutcomes(o), onAlert: (e) => monitor.alerts.apply(e) });
    },
    async close() {
      feed.current?.close();
      await Promise.all([log.close(), outbox.close()]);
      await db.close();
    },
  };
}

export async function createApp(config: Config, monitorOptions: MonitorOptions = {}): Promise<App> {
  const feed: { current?: FleetFeed } = {};
  const monitor = new Monitor(config.databaseUrl
    ? {
        ...monitorOptions,
        replica: config.replicaId,
        alertLedger: (e) => void feed.current?.propose(e).catch((err) => console.error(`alert ${e.kind}:${e.subject} not recorded: ${(err as Error).message}`)),
      }
    : monitorOptions);
  const stores = config.databaseUrl ? await postgresStores(config, config.databaseUrl, monitor, feed) : await embeddedStores(config, monitor);
  const { customers, log, outbox } = stores;
  monitor.watchWorkflow(() => outbox.status());
  const metrics = new PrometheusMetrics(monitor, (registry) => {
    // Among replicas (or workers behind one port) every series says whose it is.
    if (config.databaseUrl) registry.setDefaultLabels({ replica: config.replicaId });
    new Gauge({ name: "churn_log_durable_records", help: "Records committed to the prediction log", registers: [registry], collect() { this.set(log.durableSeq); } });
    new Gauge({ name: "churn_log_pending_records", help: "Records appended but not yet committed", registers: [registry], collect() { this.set(log.appendedSeq - log.durableSeq); } });
    new Gauge({ name: "churn_log_write_ok", help: "1 while the prediction log can write, 0 while its commits fail (predictions are refused)", registers: [registry], collect() { this.set(log.writeError ? 0 : 1); } });
    const kept = stores.customersKept;
    if (kept) new Gauge({ name: "churn_log_customers", help: "Customers the log keeps state about: a retained prediction or a start in cooldown", registers: [registry], collect() { this.set(kept()); } });
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
    history: stores.history,
    log,
    observers: config.monitoring ? [log, ...stores.monitorObservers, metrics, requestRecords] : [],
    maxBatchCustomers: config.maxBatchCustomers,
    overrides: { threshold: config.threshold, holdout: config.holdout, holdoutSalt: config.holdoutSalt },
    replica: config.replicaId,
    onBundle: (bundle) => {
      stores.setBundle?.(bundle);
      monitor.setBundle(bundle.version, bundle.reference, config.holdout ?? bundle.manifest.decision.holdout);
    },
  });
  await stores.feedMonitor();
  if (config.customersFile) await importCustomerFile(service, config.customersFile);
  // Events older than the longest window plus a margin are folded into per-customer summaries.
  const compact = () => customers.compact(Date.now() - DEFAULT_RETENTION_MS).catch((err) => console.error(`customer data compaction failed: ${(err as Error).message}`));
  const compaction = setInterval(compact, 3_600_000);
  compaction.unref?.();
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
      await stores.close();
    },
  };
}
