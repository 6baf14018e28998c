// The customer table numbers ids densely in first-seen order, whatever the ids (it spreads them
// over several maps: the numbering must not depend on which map an id lands in).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CustomerTable } from "../server/store/customer-table.ts";

describe("customer table", () => {
  it("gives each distinct id the next number on first sight and the same number after (property)", () => {
    const ids = fc.array(fc.oneof(fc.string(), fc.string({ unit: "binary", maxLength: 6 }), fc.nat(5000).map((n) => `CUST-${n}`)), { maxLength: 400 });
    fc.assert(
      fc.property(ids, (list) => {
        const table = new CustomerTable();
        const firstSeen = new Map<string, number>();
        for (const id of list) {
          if (!firstSeen.has(id)) expect(table.find(id)).toBeUndefined();
          const n = table.numberOf(id);
          if (!firstSeen.has(id)) firstSeen.set(id, firstSeen.size);
          expect(n).toBe(firstSeen.get(id));
        }
        for (const [id, n] of firstSeen) expect(table.find(id)).toBe(n);
      }),
    );
  });

  it("keeps numbers dense across many ids", () => {
    const table = new CustomerTable();
    const wrong = Array.from({ length: 100_000 }, (_, i) => i).filter((i) => table.numberOf(`c${i}`) !== i);
    expect(wrong).toEqual([]);
    expect(table.find("c99999")).toBe(99_999);
    expect(table.find("c100000")).toBeUndefined();
  });
});
