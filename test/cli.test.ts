// The `churn` command line, run as a user would (the built dist/cli/main.js).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixturePath, readMatrix, readPredictions } from "./helpers/fixtures.ts";
import { testServer } from "./helpers/server.ts";

const dir = mkdtempSync(join(tmpdir(), "cli-"));
function churn(...args: string[]) {
  const r = spawnSync(process.execPath, ["dist/cli/main.js", ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("churn score", () => {
  for (const [kind, file, tol] of [["raw", "pred_raw.txt", 1e-12], ["prob", "pred_normal.txt", 1e-12], ["leaf", "pred_leaf.txt", 0], ["contrib", "pred_contrib.txt", 1e-9]] as const) {
    it(`--kind ${kind} reproduces LightGBM's ${file} on native_categorical`, () => {
      const out = join(dir, `${kind}.txt`);
      const r = churn("score", "--model", fixturePath("lightgbm", "native_categorical", "model.txt"), "--input", fixturePath("lightgbm", "native_categorical", "test_features.csv"), "--kind", kind, "--output", out);
      expect(r.code, r.stderr).toBe(0);
      const got = readFileSync(out, "utf8").trim().split("\n").map((l) => l.split("\t").map(Number));
      const want = readPredictions("lightgbm", "native_categorical", file);
      expect(got.length).toBe(want.length);
      got.forEach((row, i) => row.forEach((v, k) => expect(Math.abs(v - want[i][k])).toBeLessThanOrEqual(tol)));
    });
  }

  it("matches columns by name in any order, spaces standing for LightGBM's _", () => {
    const m = readMatrix("lightgbm", "churn_model", "test_features.csv");
    const order = [...m.header.keys()].reverse();
    const csv = [order.map((c) => m.header[c]).join(",")];
    for (let r = 0; r < 5; r++) csv.push(order.map((c) => String(m.data[r * m.nCols + c])).join(","));
    writeFileSync(join(dir, "reversed.csv"), csv.join("\n") + "\n");
    const r = churn("score", "--model", fixturePath("lightgbm", "churn_model", "model.txt"), "--input", join(dir, "reversed.csv"));
    expect(r.code, r.stderr).toBe(0);
    const want = readPredictions("lightgbm", "churn_model", "pred_normal.txt").slice(0, 5);
    r.stdout.trim().split("\n").forEach((l, i) => expect(Math.abs(Number(l) - want[i][0])).toBeLessThanOrEqual(1e-12));
  });

  it("says which column is missing, and refuses bad usage with exit code 2", () => {
    writeFileSync(join(dir, "short.csv"), "tenure\n1\n");
    const r = churn("score", "--model", fixturePath("lightgbm", "churn_model", "model.txt"), "--input", join(dir, "short.csv"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lacks column\(s\) monthly_charges/);
    expect(churn("score", "--kind", "odd").code).toBe(2);
    expect(churn("nonsense").code).toBe(2);
    expect(churn("score", "--model", "no/such/file.txt", "--input", "x.csv").stderr).toMatch(/no\/such\/file\.txt/);
  });
});

describe("churn effects", () => {
  it("reproduces EconML's reference effects at alpha 0.05", () => {
    const out = join(dir, "effects.csv");
    const r = churn("effects", "--model", fixturePath("causal_forest", "causal_forest.safetensors"), "--input", fixturePath("causal_forest", "test_X_scaled.csv"), "--output", out);
    expect(r.code, r.stderr).toBe(0);
    const got = readFileSync(out, "utf8").trim().split("\n");
    const header = got[0].split(",");
    const ref = readMatrix("causal_forest", "reference_effects.csv");
    expect(header).toEqual(ref.header.slice(1, 17));
    got.slice(1).forEach((line, row) => {
      line.split(",").map(Number).forEach((v, c) => {
        const want = ref.data[row * ref.nCols + ref.header.indexOf(header[c])];
        expect(Math.abs(v - want)).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(want));
      });
    });
  });
});

describe("churn predict", () => {
  it("scores a customer CSV in-process, in chunks, with a budget over the whole file", () => {
    const out = join(dir, "results.csv");
    const r = churn("predict", "--input", "models/sample_customers.csv", "--local", "--chunk", "300", "--budget", "500", "--output", out);
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines).toHaveLength(2001);
    expect(lines[0]).toMatch(/^customer_id,prediction_id,churn_probability/);
    const cost = lines.slice(1).reduce((s, l) => s + Number(l.split(",")[9] || 0), 0);
    expect(cost).toBeLessThanOrEqual(500 + 1e-9);
    expect(r.stderr).toMatch(/2000 customers scored: intervene \d+, total cost \d+\.\d\d/);
  });

  it("with a budget against a server, triggers exactly the interventions its output lists", async () => {
    const server = await testServer();
    const out = join(dir, "budget-remote.csv");
    const child = spawn(process.execPath, ["dist/cli/main.js", "predict", "--input", "models/sample_customers.csv", "--server", server.url, "--chunk", "300", "--budget", "500", "--output", out], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise((r) => child.on("exit", r));
    const recorded = server.app.outbox.status().recorded;
    const logged = server.app.log.appendedSeq;
    await server.close();
    expect(code, stderr).toBe(0);
    const rows = readFileSync(out, "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
    const intervene = rows.filter((r) => r[4] === "true");
    expect(intervene.length).toBeGreaterThan(0);
    // The dry run that planned the allocation logged and triggered nothing.
    expect(logged).toBe(2000);
    expect(recorded).toBe(intervene.length);
    expect(intervene.reduce((s, r) => s + Number(r[9]), 0)).toBeLessThanOrEqual(500 + 1e-9);
    // Chunked, the allocation picks what one batch of the whole file picks (in-process, fresh cooldowns).
    const whole = churn("predict", "--input", "models/sample_customers.csv", "--local", "--chunk", "2000", "--budget", "500", "--output", join(dir, "budget-whole.csv"));
    expect(whole.code, whole.stderr).toBe(0);
    const wholeRows = readFileSync(join(dir, "budget-whole.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
    expect(rows.map((r) => r[5])).toEqual(wholeRows.map((r) => r[5]));
  });

  it("against a server, checks the whole file before acting: bad rows by line and field, --skip-invalid, --dry-run", async () => {
    const server = await testServer();
    const lines = readFileSync("models/sample_customers.csv", "utf8").trim().split("\n");
    // Row 1,501 (line 1,502) and row 1,800 are bad, far past the first chunk of 300.
    lines[1501] = lines[1501].replace(/^([^,]+),\d+,/, "$1,-4,");
    lines[1800] = lines[1800].replace(/Month-to-month|One year|Two year/, "Weekly");
    const input = join(dir, "two-bad.csv");
    writeFileSync(input, lines.join("\n") + "\n");
    const run = (...extra: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["dist/cli/main.js", "predict", "--input", input, "--server", server.url, "--chunk", "300", ...extra], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("exit", (code) => resolve({ code, stderr }));
      });
    try {
      const refused = await run("--output", join(dir, "none.csv"));
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`${input} line 1502: tenure: out of range`);
      expect(refused.stderr).toMatch(new RegExp(`line 1801: contract_type: unknown category "Weekly"`));
      expect(server.app.log.appendedSeq).toBe(0);

      const dry = await run("--dry-run", "--skip-invalid", join(dir, "rejects-dry.csv"), "--output", join(dir, "dry.csv"));
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stderr).toMatch(/1998 customers checked \(dry run: nothing acted on\)/);
      expect(readFileSync(join(dir, "dry.csv"), "utf8").trim().split("\n")).toHaveLength(1999);
      expect(server.app.log.appendedSeq).toBe(0);

      const skipped = await run("--skip-invalid", join(dir, "rejects.csv"), "--output", join(dir, "skipped.csv"));
      expect(skipped.code, skipped.stderr).toBe(0);
      const rejects = readFileSync(join(dir, "rejects.csv"), "utf8").trim().split("\n");
      expect(rejects[0]).toBe("line,customer_id,problems");
      expect(rejects.slice(1).map((l) => l.split(",")[0])).toEqual(["1502", "1801"]);
      expect(server.app.log.appendedSeq).toBe(1998);
    } finally {
      await server.close();
    }
    const unreachable = churn("predict", "--input", input, "--server", "http://127.0.0.1:9");
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach the service at http://127.0.0.1:9");
  });

  it("scores against a running server (Node 20: no global WebSocket needed)", async () => {
    const server = await testServer();
    const out = join(dir, "remote.csv");
    const child = spawn(process.execPath, ["dist/cli/main.js", "predict", "--input", "models/sample_customers.csv", "--server", server.url, "--output", out], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise((r) => child.on("exit", r));
    await server.close();
    expect(code, stderr).toBe(0);
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(2001);
    expect(stderr).toMatch(/2000 customers scored/);
  });

  it("needs either --server or --local and --budget for --require-significance; names the file of a malformed CSV", () => {
    expect(churn("predict", "--input", "models/sample_customers.csv").code).toBe(2);
    expect(churn("predict", "--input", "models/sample_customers.csv", "--local", "--require-significance").code).toBe(2);
    writeFileSync(join(dir, "ragged.csv"), "customer_id,tenure\nA,1\nB\n");
    const ragged = churn("predict", "--input", join(dir, "ragged.csv"), "--local");
    expect(ragged.code).toBe(2);
    expect(ragged.stderr).toContain(`${join(dir, "ragged.csv")}: Invalid Record Length`);
  });
});

describe("churn customers import", () => {
  const csv = join(dir, "warehouse.csv");
  writeFileSync(csv, [
    "customer_id,tenure,monthly_charges,contract_type,internet_service,region",
    "W1,14,55.5,One year,DSL,north",
    "W2,oops,20,Two year,No,south",
    "W3,3,19.9,Weekly,No,east",
    "W4,40,80,Two year,Fiber optic,west",
  ].join("\n") + "\n");

  it("imports valid rows into a stopped service's store, refusing bad rows whole with line and field", async () => {
    const data = mkdtempSync(join(tmpdir(), "cli-import-"));
    const r = churn("customers", "import", csv, "--local", "--data-dir", data);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`${csv} line 3: refused: tenure: expected an integer`);
    expect(r.stderr).toMatch(new RegExp(`${csv.replaceAll("/", "\\/")} line 4: refused: contract_type: unknown category "Weekly"`));
    expect(r.stderr).toContain("2 customers imported, 2 refused");
    const server = await testServer(["--data-dir", data]);
    try {
      expect((await (await fetch(`${server.url}/customers/W1`)).json()).fields.tenure).toEqual({ value: 14, source: "store" });
      expect((await fetch(`${server.url}/customers/W2`)).status).toBe(404);
      // And through a running server.
      writeFileSync(join(dir, "more.csv"), "customer_id,tenure\nW5,7\n");
      const viaServer = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["dist/cli/main.js", "customers", "import", join(dir, "more.csv"), "--server", server.url], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stderr }));
      });
      expect(viaServer.code, viaServer.stderr).toBe(0);
      expect((await (await fetch(`${server.url}/customers/W5`)).json()).fields.tenure).toEqual({ value: 7, source: "store" });
    } finally {
      await server.close();
    }
  });

  it("says which file and line when the CSV is malformed, and refuses bad usage with code 2", () => {
    writeFileSync(join(dir, "ragged-customers.csv"), "customer_id,tenure\nA,1\nB\n");
    const r = churn("customers", "import", join(dir, "ragged-customers.csv"), "--local", "--data-dir", mkdtempSync(join(tmpdir(), "cli-import-")));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(dir, "ragged-customers.csv")}: Invalid Record Length`);
    expect(churn("customers", "import", csv).code).toBe(2);
    expect(churn("customers", "export").code).toBe(2);
  });
});
