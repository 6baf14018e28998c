// The composition root: the service and everything that watches it, built once from the
// configuration and handed to every transport.
import type { Config } from "./config.ts";
import { MemoryCustomerStore } from "./service/customers.ts";
import { Recommender } from "./service/recommender.ts";

export interface App {
  config: Config;
  service: Recommender;
  /** Server-side latency of one operation (tRPC path or REST route). */
  observeLatency(operation: string, ms: number): void;
  close(): Promise<void>;
}

export async function createApp(config: Config): Promise<App> {
  const store = config.customersFile ? await MemoryCustomerStore.fromCsv(config.customersFile) : undefined;
  const service = await Recommender.open({
    modelsDir: config.modelsDir,
    store,
    maxBatchCustomers: config.maxBatchCustomers,
    overrides: config.threshold === undefined ? {} : { threshold: config.threshold },
  });
  return {
    config,
    service,
    observeLatency() {},
    async close() {
      service.close();
    },
  };
}
