// Alert conditions with state: exactly one `firing` event when a condition starts to hold and
// one `resolved` event when it stops. Event ids increase, so a subscriber can resume after a
// reconnect from the last id it saw (a bounded history is kept). With a ledger (several
// replicas), a change is proposed to it instead, and events come back through `apply`: the
// ledger makes one event of a change however many replicas see it.
import type { ActiveAlert, AlertEvent } from "../contract/monitoring.ts";

/** Where a change is proposed when the fleet, not this process, decides what is an event. */
export type AlertLedger = (event: Omit<AlertEvent, "id">) => void;

/** A change proposed again after this long without its event coming back (the proposal may have been lost). */
const PROPOSE_AGAIN_MS = 5000;

export class Alerts {
  private seq = 0;
  private readonly active = new Map<string, ActiveAlert>();
  private readonly history: AlertEvent[] = [];
  private readonly listeners = new Set<(e: AlertEvent) => void>();
  private readonly proposed = new Map<string, { state: AlertEvent["state"]; at: number }>();

  constructor(
    private readonly historySize = 1000,
    private readonly ledger?: AlertLedger,
  ) {}

  /** Reports whether a condition holds now; emits an event only when that changes. */
  set(kind: AlertEvent["kind"], subject: string, holds: boolean, value: number, threshold: number, now = Date.now()): void {
    const key = `${kind}:${subject}`;
    const current = this.active.get(key);
    if (holds === (current !== undefined)) {
      if (current) current.value = value;
      return;
    }
    const event = { kind, subject, value, threshold, state: holds ? "firing" : "resolved", at: new Date(now).toISOString() } as const;
    if (!this.ledger) return this.apply({ id: String(this.seq + 1), ...event });
    const last = this.proposed.get(key);
    if (last?.state === event.state && now - last.at < PROPOSE_AGAIN_MS) return;
    this.proposed.set(key, { state: event.state, at: now });
    this.ledger(event);
  }

  /** An event: this process's own, or the fleet's as the ledger recorded it. */
  apply(event: AlertEvent): void {
    const key = `${event.kind}:${event.subject}`;
    this.proposed.delete(key);
    if (event.state === "firing") this.active.set(key, { ...event, since: event.at });
    else this.active.delete(key);
    this.seq = Math.max(this.seq, Number(event.id));
    this.history.push(event);
    if (this.history.length > this.historySize) this.history.shift();
    for (const l of this.listeners) l(event);
  }

  list(): ActiveAlert[] {
    return [...this.active.values()].map(({ id, kind, subject, value, threshold, state, since }) => ({ id, kind, subject, value, threshold, state, since }));
  }

  /** Events after `lastId` (all kept ones without it). */
  since(lastId?: string): AlertEvent[] {
    const after = lastId === undefined ? 0 : Number(lastId);
    return this.history.filter((e) => Number(e.id) > after);
  }

  subscribe(listener: (e: AlertEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get fired(): number {
    return this.seq;
  }
}
