// The packages as users get them: `npm pack`, installed into an empty project, then the CLI run
// and the typed client type-checked against what was installed (skipLibCheck false). The client
// package installs no server runtime, and its browser bundle holds no Node built-in.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";

const root = resolve(".");
const tsc = join(root, "node_modules/typescript/bin/tsc");
const npm = (cwd: string, ...args: string[]) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
let tarballs: { main: string; client: string };

/** A scratch project with the given tarballs installed (scripts off: the tarballs hold built code). */
function project(name: string, packages: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), `churn-pack-${name}-`));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `scratch-${name}`, private: true, type: "module" }));
  npm(dir, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline", ...packages);
  return dir;
}

/**
 * Type-checks test/packaging/typed-inputs.ts in `dir`, importing the client from `specifier`
 * (tRPC 11's own declarations need the Disposable types: lib esnext.disposable or esnext).
 */
function typecheck(dir: string, specifier: string) {
  const source = readFileSync("test/packaging/typed-inputs.ts", "utf8").replace('"churn-intervention/client"', JSON.stringify(specifier));
  writeFileSync(join(dir, "typed-inputs.ts"), source);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2023", "ESNext.Disposable", "DOM"], types: [], skipLibCheck: false, noEmit: true },
    files: ["typed-inputs.ts"],
  }));
  return spawnSync(process.execPath, [tsc, "-p", dir], { encoding: "utf8" });
}

beforeAll(() => {
  const out = mkdtempSync(join(tmpdir(), "churn-tarballs-"));
  // Built already by `npm test`; packing with scripts would build again.
  const pack = (dir: string) => join(out, JSON.parse(npm(dir, "pack", "--ignore-scripts", "--json", "--pack-destination", out))[0].filename);
  tarballs = { main: pack(root), client: pack(join(root, "client")) };
}, 120_000);

describe("the main package, packed and installed", () => {
  let dir: string;
  beforeAll(() => {
    dir = project("main", [tarballs.main]);
  }, 180_000);

  it("runs the CLI: --help to stdout, --version, and predict on the bundled models", () => {
    const churn = join(dir, "node_modules/.bin/churn");
    const help = spawnSync(churn, ["--help"], { cwd: dir, encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: churn <command>/);
    const version = spawnSync(churn, ["--version"], { cwd: dir, encoding: "utf8" });
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
    const csv = join(dir, "customers.csv");
    writeFileSync(csv, "customer_id,tenure,monthly_charges,contract_type,internet_service\nCUST-001,12,70.5,Month-to-month,Fiber optic\n");
    const scored = spawnSync(churn, ["predict", "--input", csv, "--local"], { cwd: dir, encoding: "utf8" });
    expect(scored.stderr).toMatch(/1 customers scored/);
    expect(scored.stdout.split("\n")[1]).toMatch(/^CUST-001,[0-9a-f-]{36},0\.3919228195598988,MEDIUM,true,discount_199,/);
  });

  it("types the client's inputs (skipLibCheck false against the installed declarations)", () => {
    const r = typecheck(dir, "churn-intervention/client");
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("the client package, packed and installed", () => {
  let dir: string;
  beforeAll(() => {
    dir = project("client", [tarballs.client]);
  }, 180_000);

  it("pulls in no server runtime", () => {
    for (const server of ["prom-client", "hdr-histogram-js", "csv-parse", "postgres", "ws"]) expect(existsSync(join(dir, "node_modules", server))).toBe(false);
    expect(existsSync(join(dir, "node_modules/churn-intervention-client/dist/index.js"))).toBe(true);
  });

  it("types the client's inputs as the main package does", () => {
    const r = typecheck(dir, "churn-intervention-client");
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("bundles for the browser with no node: import", async () => {
    mkdirSync(join(dir, "src"), { recursive: true });
    writeFileSync(join(dir, "src/app.js"), 'import { createChurnClient } from "churn-intervention-client";\nglobalThis.churn = createChurnClient(location.origin);\n');
    const result = await build({ entryPoints: [join(dir, "src/app.js")], bundle: true, platform: "browser", format: "esm", write: false, metafile: true, absWorkingDir: dir, logLevel: "silent" });
    const text = result.outputFiles[0].text;
    expect(text).toContain("createTRPCClient");
    expect(text).not.toMatch(/["']node:/);
    expect(Object.keys(result.metafile.inputs).filter((f) => /prom-client|hdr-histogram|csv-parse|\/ws\//.test(f))).toEqual([]);
  });
});

