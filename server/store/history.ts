// Cooldowns in one process: when each intervention was last started, per customer (a column per
// intervention). A start checks and sets in one synchronous step, so nothing can come between.
import type { InterventionHistory, InterventionStart } from "../contract/storage.ts";
import { CustomerColumn, CustomerTable } from "./customer-table.ts";

export class MemoryInterventionHistory implements InterventionHistory {
  private readonly last = new Map<string, CustomerColumn>();

  /** `customers` may be shared with other per-customer state (the log's index shares it). */
  constructor(private readonly customers = new CustomerTable()) {}

  async lastTriggered(customerIds: readonly string[]): Promise<Map<string, Record<string, number>>> {
    const result = new Map<string, Record<string, number>>();
    for (const id of customerIds) {
      const n = this.customers.find(id);
      const starts: Record<string, number> = {};
      for (const [intervention, column] of this.last) {
        const at = column.get(n);
        if (at !== undefined) starts[intervention] = at;
      }
      result.set(id, starts);
    }
    return result;
  }

  async start(starts: InterventionStart[]): Promise<boolean[]> {
    return starts.map((s) => {
      const previous = this.last.get(s.intervention)?.get(this.customers.find(s.customer_id));
      if (previous !== undefined && previous > s.at - s.cooldown_ms) return false;
      this.record(s.customer_id, s.intervention, s.at);
      return true;
    });
  }

  /** A start read back from the log at open. */
  record(customerId: string, intervention: string, at: number): void {
    let column = this.last.get(intervention);
    if (!column) this.last.set(intervention, (column = new CustomerColumn()));
    column.set(this.customers.numberOf(customerId), at);
  }
}
