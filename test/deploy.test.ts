// What deploy/ ships for Prometheus and Grafana: the alert rules pass promtool's unit tests
// (series that should fire and series that should not), every metric the rules and the
// dashboard query is one that a live server's /metrics exports, and every recorded series the
// dashboard queries is one the rules record.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../server/http/server.ts";
import { readCsvRecords } from "./helpers/customers.ts";
import { post, testServer } from "./helpers/server.ts";
import { ensureCommand } from "./helpers/system-command.ts";

const RULES = "deploy/prometheus/alerts.yaml";
const RULE_TESTS = "deploy/prometheus/alerts.test.yaml";
const DASHBOARD = "deploy/grafana/churn-dashboard.json";

/** Why promtool is missing (the test installs Debian's prometheus itself where it can), or null. */
const missing = ensureCommand("promtool", "prometheus");

describe("alert rules", () => {
  // In CI they must run; elsewhere promtool's absence is said, not hidden.
  if (missing && process.env.CI) throw new Error(`the alert-rule tests must run in CI: ${missing}`);
  if (missing) console.warn(`alert-rule unit tests skipped: ${missing}`);
  it.skipIf(missing !== null)("pass promtool's checks and unit tests", () => {
    execFileSync("promtool", ["check", "rules", RULES], { encoding: "utf8" });
    const out = execFileSync("promtool", ["test", "rules", RULE_TESTS], { encoding: "utf8" });
    expect(out).toContain("SUCCESS");
  });
});

/** Metric names of this service and of prom-client's process and runtime set, as named in a text. */
function metricNames(text: string): Set<string> {
  return new Set(text.match(/\b(?:churn|process|nodejs)_[a-z0-9_]+/g));
}

describe("queries against a live /metrics", () => {
  let server: RunningServer;
  let exported: string;
  beforeAll(async () => {
    server = await testServer();
    await post(`${server.url}/batch-predict`, { customers: readCsvRecords(50) });
    exported = await (await fetch(`${server.url}/metrics`)).text();
  });
  afterAll(() => server?.close());

  /** A name is exported if its family is declared (absent-while-no-data gauges have no sample). */
  const isExported = (name: string) => {
    const family = name.replace(/_(bucket|sum|count)$/, "");
    return exported.includes(`# TYPE ${name} `) || new RegExp(`# TYPE ${family} (histogram|summary)`).test(exported);
  };

  it("the dashboard's panels name only exported metrics", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(20);
    const names = metricNames(exprs.join("\n"));
    expect(names.size).toBeGreaterThan(15);
    expect([...names].filter((n) => !isExported(n))).toEqual([]);
  });

  it("the dashboard's recorded series are ones the rules record", () => {
    const recorded = new Set([...readFileSync(RULES, "utf8").matchAll(/^\s*- record: (\S+)$/gm)].map((m) => m[1]));
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));
    const used = exprs.join("\n").match(/\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b/g) ?? [];
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((n) => !recorded.has(n))).toEqual([]);
  });

  it("the alert rules name only exported metrics", () => {
    const names = metricNames(readFileSync(RULES, "utf8"));
    expect(names).toContain("churn_auc");
    expect([...names].filter((n) => !isExported(n))).toEqual([]);
  });
});
