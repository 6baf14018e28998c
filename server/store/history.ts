// Cooldowns in one process: when each intervention was last started, per customer (a column per
// intervention). A start checks and sets in one synchronous step, so nothing can come between.
// A start matters only while it blocks another (its intervention's cooldown, from the bundle):
// after that it is forgotten, and so is a customer with nothing else kept.
import type { InterventionHistory, InterventionStart } from "../contract/storage.ts";
import { CustomerColumn, CustomerTable } from "./customer-table.ts";

/** A start as the cooldown file keeps it: customer, intervention, when (ms since the epoch). */
export interface CarriedStart {
  c: string;
  i: string;
  at: number;
}

/** One intervention's starts. */
interface Starts {
  intervention: string;
  /** When it was last started, per customer. */
  at: CustomerColumn;
  /** That start's time once it is in the cooldown file (a later start is not, until carried too). */
  carried: CustomerColumn;
  /** How long a start blocks another (ms). */
  cooldownMs: number;
}

export class MemoryInterventionHistory implements InterventionHistory {
  private readonly last = new Map<string, Starts>();
  /** The same, as a list: the per-customer passes loop over it. */
  private readonly all: Starts[] = [];
  /** Each intervention's cooldown (ms); none known yet: every start is kept. */
  private cooldowns = new Map<string, number>();
  /** The cooldown of an intervention the catalog no longer names: the longest it names. */
  private longest = Infinity;
  /** Carried starts no longer needed (a later start, a cooldown over) since the last `carried()`: the cooldown file's dead lines. */
  dropped = 0;

  /** `customers` may be shared with other per-customer state (the log's index shares it). */
  constructor(private readonly customers = new CustomerTable()) {}

  /** The catalog's cooldowns (ms by intervention): starts older than theirs can be forgotten. */
  setCooldowns(cooldowns: Map<string, number>): void {
    this.cooldowns = cooldowns;
    this.longest = Math.max(0, ...cooldowns.values());
    for (const starts of this.all) starts.cooldownMs = this.cooldownOf(starts.intervention);
  }

  private cooldownOf(intervention: string): number {
    return this.cooldowns.get(intervention) ?? this.longest;
  }

  async lastTriggered(customerIds: readonly string[]): Promise<Map<string, Record<string, number>>> {
    const result = new Map<string, Record<string, number>>();
    for (const id of customerIds) {
      const n = this.customers.find(id);
      const starts: Record<string, number> = {};
      for (const { intervention, at: column } of this.all) {
        const at = column.get(n);
        if (at !== undefined) starts[intervention] = at;
      }
      result.set(id, starts);
    }
    return result;
  }

  async start(starts: InterventionStart[]): Promise<boolean[]> {
    return starts.map((s) => {
      const kind = this.startsOf(s.intervention);
      const n = this.customers.numberOf(s.customer_id);
      const previous = kind.at.get(n);
      if (previous !== undefined && previous > s.at - s.cooldown_ms) return false;
      this.put(kind, n, previous, s.at, false);
      return true;
    });
  }

  /** A start read back at open (from the log, or `carried`: from the cooldown file); the latest of a customer's starts counts. */
  record(customerId: string, intervention: string, at: number, carried = false): void {
    const kind = this.startsOf(intervention);
    const n = this.customers.numberOf(customerId);
    this.put(kind, n, kind.at.get(n), at, carried);
  }

  private startsOf(intervention: string): Starts {
    let starts = this.last.get(intervention);
    if (!starts) {
      starts = { intervention, at: this.customers.column(), carried: this.customers.column(), cooldownMs: this.cooldownOf(intervention) };
      this.last.set(intervention, starts);
      this.all.push(starts);
    }
    return starts;
  }

  /** Customer n's start `at`, after `previous` (the latest counts; a replaced carried start is a dead line of the file). */
  private put(starts: Starts, n: number, previous: number | undefined, at: number, carried: boolean): void {
    if (previous !== undefined && previous >= at) {
      if (carried && previous === at) starts.carried.set(n, at);
      return;
    }
    if (previous !== undefined && starts.carried.get(n) === previous) this.dropped++;
    starts.at.set(n, at);
    if (carried) starts.carried.set(n, at);
  }

  /** Forgets the customer's starts that no longer block another; whether any start is left. */
  prune(customer: number, now: number): boolean {
    let left = false;
    for (const starts of this.all) {
      const at = starts.at.get(customer);
      if (at === undefined) continue;
      if (MemoryInterventionHistory.blocks(starts, at, now)) left = true;
      else {
        if (starts.carried.get(customer) === at) this.dropped++;
        starts.at.clear(customer);
        starts.carried.clear(customer);
      }
    }
    return left;
  }

  /** Whether the customer's start `at` of these starts still blocks another at `now`. */
  private static blocks(starts: Starts, at: number, now: number): boolean {
    return now - at < starts.cooldownMs;
  }

  /** Visits every start still blocking at `now` (by customer number and index in `all`), a slice of customers per turn. */
  private blocking(now: number, fn: (customer: number, k: number, at: number) => void): Promise<void> {
    return this.customers.visit((customer) => {
      for (let k = 0; k < this.all.length; k++) {
        const at = this.all[k].at.get(customer);
        if (at !== undefined && MemoryInterventionHistory.blocks(this.all[k], at, now)) fn(customer, k, at);
      }
    });
  }

  /**
   * Carries to the cooldown file every start made at or before `through` that still blocks and is
   * not there yet: `write` makes them durable, and only then are they marked as carried.
   */
  async carry(through: number, now: number, write: (starts: Iterable<CarriedStart>) => Promise<void>): Promise<void> {
    // Numbers, not an object per start: tens of thousands live across the write's fsync, and
    // objects would be promoted to the old generation (measured: a larger heap).
    const customers: number[] = [];
    const kinds: number[] = [];
    const ats: number[] = [];
    await this.blocking(now, (customer, k, at) => {
      if (at > through || this.all[k].carried.get(customer) === at) return;
      customers.push(customer);
      kinds.push(k);
      ats.push(at);
    });
    if (customers.length === 0) return;
    const all = this.all;
    const ids = this.customers;
    await write((function* () {
      for (let j = 0; j < customers.length; j++) yield { c: ids.idOf(customers[j])!, i: all[kinds[j]].intervention, at: ats[j] };
    })());
    // A start made meanwhile replaced its predecessor: it is not the one carried.
    for (let j = 0; j < customers.length; j++) {
      const starts = this.all[kinds[j]];
      if (starts.at.get(customers[j]) === ats[j]) starts.carried.set(customers[j], ats[j]);
    }
  }

  /** The carried starts that still block: what a rewritten cooldown file keeps (`dropped` counts again from here). */
  async carried(now: number): Promise<CarriedStart[]> {
    this.dropped = 0;
    const kept: CarriedStart[] = [];
    await this.blocking(now, (customer, k, at) => {
      if (this.all[k].carried.get(customer) === at) kept.push({ c: this.customers.idOf(customer)!, i: this.all[k].intervention, at });
    });
    return kept;
  }
}
