// The customer table numbers ids densely in first-seen order, whatever the ids (it spreads them
// over several maps: the numbering must not depend on which map an id lands in), and a sweep
// forgets customers with every value they had, their numbers given again to new ones.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CustomerTable } from "../server/store/customer-table.ts";

const anyId = fc.oneof(fc.string(), fc.string({ unit: "binary", maxLength: 6 }), fc.nat(5000).map((n) => `CUST-${n}`));

describe("customer table", () => {
  it("gives each distinct id the next number on first sight and the same number after (property)", () => {
    fc.assert(
      fc.property(fc.array(anyId, { maxLength: 400 }), (list) => {
        const table = new CustomerTable();
        const firstSeen = new Map<string, number>();
        for (const id of list) {
          if (!firstSeen.has(id)) expect(table.find(id)).toBeUndefined();
          const n = table.numberOf(id);
          if (!firstSeen.has(id)) firstSeen.set(id, firstSeen.size);
          expect(n).toBe(firstSeen.get(id));
        }
        for (const [id, n] of firstSeen) expect(table.find(id)).toBe(n);
        expect(table.size).toBe(firstSeen.size);
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

  it("forgets what a sweep refuses, values included, and gives the numbers to new customers (property)", async () => {
    // Rounds of: new and returning customers each given a value, then a sweep keeping some of them.
    const round = fc.record({ seen: fc.array(anyId, { maxLength: 60 }), keep: fc.func(fc.boolean()) });
    await fc.assert(
      fc.asyncProperty(fc.array(round, { maxLength: 6 }), async (rounds) => {
        const table = new CustomerTable();
        const column = table.column();
        // The model: each known id's value.
        const model = new Map<string, number>();
        let value = 0;
        for (const { seen, keep } of rounds) {
          for (const id of seen) {
            column.set(table.numberOf(id), ++value);
            model.set(id, value);
          }
          const refused = [...model.keys()].filter((id) => !keep(id));
          // A slice of 3 numbers: the sweep yields to the event loop several times.
          const forgotten = await table.sweep((n) => keep(table.idOf(n)!), 3);
          expect(forgotten).toBe(refused.length);
          for (const id of refused) model.delete(id);
          expect(table.size).toBe(model.size);
          const numbers = new Set<number>();
          for (const [id, v] of model) {
            const n = table.find(id)!;
            expect(column.get(n)).toBe(v);
            expect(table.idOf(n)).toBe(id);
            numbers.add(n);
          }
          for (const id of refused) expect(table.find(id)).toBeUndefined();
          expect(numbers.size).toBe(model.size);
        }
        // A number given again starts with no value.
        const fresh = table.numberOf("\u0000fresh");
        expect(column.get(fresh)).toBeUndefined();
      }),
    );
  });

  it("stays the size of the customers kept while new ones keep coming", async () => {
    const table = new CustomerTable();
    const column = table.column();
    for (let wave = 0; wave < 5; wave++) {
      for (let i = 0; i < 10_000; i++) column.set(table.numberOf(`w${wave}-${i}`), wave);
      // Only the current wave is kept.
      await table.sweep((n) => column.get(n) === wave);
      expect(table.size).toBe(10_000);
    }
    // Numbers were given again: none beyond the first wave's 10,000 (fails if numbers are never reused).
    expect(Math.max(...Array.from({ length: 10_000 }, (_, i) => table.find(`w4-${i}`)!))).toBe(9_999);
  });
});
