// Prediction ids: UUIDs of version 8 (RFC 9562's layout for custom content) whose first 74 bits
// are random per process and whose last 48 bits count the process's predictions. They are as
// unique across replicas and restarts as random UUIDs, and an id says which prediction of which
// process it is: the log finds a prediction by position, without a map of every id it has seen.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/** A replica's name when none is configured (REPLICA_ID): host name and pid. */
export function defaultReplica(): string {
  return `${hostname()}-${process.pid}`;
}

const FORMAT = /^([0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-)([0-9a-f]{12})$/;
const MAX_SEQUENCE = 2 ** 48;

export class PredictionIds {
  /** This process's prefix, dashes included: `xxxxxxxx-xxxx-8xxx-Vxxx-`. */
  readonly instance: string;
  private seq = 0;

  constructor(random: Buffer = randomBytes(9)) {
    const hex = random.toString("hex");
    const variant = "89ab"[random[8] & 3];
    this.instance = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(12, 15)}-${variant}${hex.slice(15, 18)}-`;
  }

  next(): string {
    // 2^48 ids last a process 4,000 years at 2,000 a second; the check keeps the format exact.
    if (this.seq === MAX_SEQUENCE) throw new Error("prediction id sequence exhausted");
    return PredictionIds.format(this.instance, this.seq++);
  }

  /** The process prefix and sequence number of an id in this format; null for any other id. */
  static parse(id: string): { instance: string; seq: number } | null {
    const m = FORMAT.exec(id);
    return m ? { instance: m[1], seq: parseInt(m[2], 16) } : null;
  }

  static format(instance: string, seq: number): string {
    return instance + seq.toString(16).padStart(12, "0");
  }
}
