// The one CSV cell rule, for every reader of CSVs (CUSTOMERS_FILE, churn predict, the reference
// builder, the model tools' matrices).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cellNumber, cellValue } from "../server/features/csv.ts";
import { customerFileRows } from "../server/store/customer-file.ts";

describe("CSV cells", () => {
  it("reads every number as written, missing as null, words case-blind (property)", () => {
    // String(-0) is "0": the sign of zero is the one thing a CSV cannot carry.
    fc.assert(fc.property(fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)), (d) => {
      expect(cellValue(` ${String(d)} `)).toBe(d);
    }));
    fc.assert(fc.property(fc.constantFrom("", " ", "nan", "NaN", "NAN"), (s) => {
      expect(cellValue(s)).toBeNull();
    }));
    expect([cellValue("TRUE"), cellValue("false"), cellValue("-Inf"), cellValue("infinity")]).toEqual([true, false, -Infinity, Infinity]);
  });

  it("keeps text as it was, prototype names included", () => {
    fc.assert(fc.property(fc.string().filter((s) => Number.isNaN(Number(s.trim())) && !/^\s*[+-]?(nan|true|false|inf|infinity)\s*$/i.test(s)), (s) => {
      expect(cellValue(s)).toBe(s);
    }));
    for (const s of ["constructor", "toString", "__proto__", "Month-to-month"]) expect(cellValue(s)).toBe(s);
  });

  it("as numbers: booleans are 1/0, missing NaN, text refused naming where", () => {
    expect([cellNumber("true", "x"), cellNumber("0", "x"), cellNumber("", "x")]).toEqual([1, 0, NaN]);
    expect(() => cellNumber("abc", "f.csv row 3 column tenure")).toThrow('f.csv row 3 column tenure: not a number: "abc"');
  });

  it("a customer file is read by the same rule as churn predict (a true is a boolean there too), with line numbers", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "cells-")), "customers.csv");
    writeFileSync(path, "customer_id,paperless_billing,tenure,contract_type,total_charges,churned\nC1,true,12,One year,nan,1\n\nC2,0,3,Two year,10,0\n");
    const chunks = [];
    for await (const chunk of customerFileRows(path, ["paperless_billing", "tenure", "contract_type", "total_charges"])) chunks.push(...chunk);
    expect(chunks).toEqual([
      { line: 2, row: { customer_id: "C1", paperless_billing: true, tenure: 12, contract_type: "One year", total_charges: null } },
      { line: 4, row: { customer_id: "C2", paperless_billing: 0, tenure: 3, contract_type: "Two year", total_charges: 10 } },
    ]);
  });
});
