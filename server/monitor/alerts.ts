// Alert conditions with state: exactly one `firing` event when a condition starts to hold and
// one `resolved` event when it stops. Event ids increase, so a subscriber can resume after a
// reconnect from the last id it saw (a bounded history is kept).
import type { ActiveAlert, AlertEvent } from "../contract/monitoring.ts";


export class Alerts {
  private seq = 0;
  private readonly active = new Map<string, ActiveAlert>();
  private readonly history: AlertEvent[] = [];
  private readonly listeners = new Set<(e: AlertEvent) => void>();

  constructor(private readonly historySize = 1000) {}

  /** Reports whether a condition holds now; emits an event only when that changes. */
  set(kind: AlertEvent["kind"], subject: string, holds: boolean, value: number, threshold: number, now = Date.now()): void {
    const key = `${kind}:${subject}`;
    const current = this.active.get(key);
    if (holds === (current !== undefined)) {
      if (current) current.value = value;
      return;
    }
    const at = new Date(now).toISOString();
    const event: AlertEvent = { id: String(++this.seq), kind, subject, value, threshold, state: holds ? "firing" : "resolved", at };
    if (holds) this.active.set(key, { ...event, since: at });
    else this.active.delete(key);
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
