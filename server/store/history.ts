// Cooldowns: when each intervention was last triggered, per customer (a column per intervention).
import type { InterventionHistory } from "../contract/storage.ts";
import { CustomerColumn, CustomerTable } from "./customer-table.ts";

export class MemoryInterventionHistory implements InterventionHistory {
  private readonly last = new Map<string, CustomerColumn>();

  /** `customers` may be shared with other per-customer state (the log's index shares it). */
  constructor(private readonly customers = new CustomerTable()) {}

  lastTriggered(customerId: string, intervention: string): number | undefined {
    return this.last.get(intervention)?.get(this.customers.find(customerId));
  }

  record(customerId: string, intervention: string, at: number): void {
    let column = this.last.get(intervention);
    if (!column) this.last.set(intervention, (column = new CustomerColumn()));
    column.set(this.customers.numberOf(customerId), at);
  }
}
