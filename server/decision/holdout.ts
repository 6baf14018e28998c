// Holdout assignment (DESIGN section 10): a customer is in the holdout group when a hash of the
// salt and its customer_id falls below the fraction. Nothing is stored: every replica, and every
// restart, puts a customer on the same side; raising the fraction only adds customers to the group.
import { createHash } from "node:crypto";

const SCALE = 2 ** 48;

/** Where the customer falls in [0, 1): the first 48 bits of SHA-256(salt, customer_id). */
export function holdoutPoint(customerId: string, salt: string): number {
  const digest = createHash("sha256").update(salt).update("\u0000").update(customerId).digest();
  return digest.readUIntBE(0, 6) / SCALE;
}

export function inHoldout(customerId: string, fraction: number, salt: string): boolean {
  return fraction > 0 && holdoutPoint(customerId, salt) < fraction;
}
