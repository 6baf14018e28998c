// The image without a container engine: the Dockerfile checked for what it declares, then its
// CMD run as the image runs it, from the same contents (the package as `npm pack` makes it, with
// the lockfile's production dependencies installed by the final stage's own `npm ci` line), as
// the image's numeric user, with the code, HOME and TMPDIR read-only and the image's environment,
// its absolute paths laid under a scratch root; `node` is the Node running the tests, or the
// binary IMAGE_NODE names (one of the image's Node line). What this does not cover is in the README.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readDockerfile, type Image } from "./helpers/dockerfile.ts";
import { readCsvRecords } from "./helpers/customers.ts";
import { startNodeFlags } from "./helpers/start-command.ts";

const image: Image = readDockerfile();
const runs = (stage: { instructions: { keyword: string; args: string }[] }) => stage.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
/** The final stage's first RUN, the one that installs the dependencies, as its `&&`-joined commands. */
const installLine = () => runs(image.final)[0].split("&&").map((c) => c.trim());
const pkg = JSON.parse(readFileSync("package.json", "utf8"));

describe("the Dockerfile", () => {
  it("builds on a supported Node line (22 or 24) in every stage", () => {
    for (const stage of image.stages) expect(stage.from).toMatch(/^node:(22|24)[.-]/);
  });

  it("runs node itself as PID 1: exec form, no npm, no shell, with npm start's node flags", () => {
    expect(image.entrypoint).toBeUndefined();
    expect(image.cmd).toEqual(["node", ...startNodeFlags(), "dist/cli/main.js", "serve"]);
  });

  it("runs as a numeric non-root user that owns the declared data directory", () => {
    expect(image.uid).toBeGreaterThan(0);
    expect(image.gid).toBeGreaterThan(0);
    const dataDir = image.env.DATA_DIR;
    expect(image.volumes).toContain(dataDir);
    expect(runs(image.final).join("\n")).toContain(`chown ${image.uid}:${image.gid} ${dataDir}`);
  });

  it("holds the packed package with production dependencies only", () => {
    const copies = image.final.instructions.filter((i) => i.keyword === "COPY").map((i) => i.args);
    expect(copies).toEqual([`--from=${image.stages[0].name} /pkg ./`, "package-lock.json ./"]);
    expect(runs(image.stages[0]).join("\n")).toMatch(/npm pack --ignore-scripts --pack-destination \/tmp .*tar -xzf \/tmp\/churn-intervention-\*\.tgz -C \/pkg --strip-components=1/);
    expect(installLine()[0]).toMatch(/^npm ci --omit=dev /);
  });

  it("has a health check on readiness, with time for the bundle to load", () => {
    expect(image.healthcheck?.cmd.join(" ")).toContain("/health/ready");
    expect(image.healthcheck?.options).toMatch(/--start-period=\d+s/);
  });

  it("turns access control on: a keys file is expected", () => {
    expect(image.env.API_KEYS_FILE).toMatch(/^\/run\/secrets\//);
  });
});

const KEY = "container-test-key";
const asRoot = process.getuid?.() === 0;

/** Everything the image's file system needs, under one scratch root. */
let root: string;
/** The image's environment with its absolute paths under `root`, and an ephemeral port. */
let env: Record<string, string>;
const at = (path: string) => join(root, path);

/** The image's `node`: this test's Node, or IMAGE_NODE (a binary of the image's Node line). */
const NODE = process.env.IMAGE_NODE ?? process.execPath;

/** The CMD (or HEALTHCHECK) as the image's user, in its WORKDIR. */
function run(argv: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const [bin, ...args] = argv;
  const node = bin === "node" ? NODE : bin;
  const cmd = asRoot ? ["setpriv", `--reuid=${image.uid}`, `--regid=${image.gid}`, "--clear-groups", "--", node, ...args] : [node, ...args];
  return spawn(cmd[0], cmd.slice(1), { cwd: at(image.workdir), env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
}

/** Output so far, and the exit. */
function watch(child: ChildProcess) {
  const out = { stdout: "", stderr: "", exit: new Promise<number | null>((done) => child.on("exit", (code) => done(code))) };
  child.stdout!.on("data", (d) => (out.stdout += d));
  child.stderr!.on("data", (d) => (out.stderr += d));
  return out;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function makeTree(dir: string, mode: number) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) makeTree(path, mode);
  }
  chmodSync(dir, mode);
}

beforeAll(() => {
  if (!existsSync("dist/cli/main.js")) throw new Error("dist/ is not built: npm run build");
  root = mkdtempSync(join(tmpdir(), "churn-image-"));
  const app = at(image.workdir);
  mkdirSync(app, { recursive: true });
  // The build stage's last step and the final stage's: the packed package, then its production dependencies.
  const packed = JSON.parse(execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", root], { encoding: "utf8" }))[0].filename;
  execFileSync("tar", ["-xzf", join(root, packed), "-C", app, "--strip-components=1"]);
  copyFileSync("package-lock.json", join(app, "package-lock.json"));
  // The Dockerfile's own commands (plain words, no quoting), but for emptying npm's cache, which
  // only slims the image's layer and here would empty the machine's.
  for (const command of installLine().filter((c) => !c.startsWith("npm cache "))) {
    const [bin, ...args] = command.split(/\s+/);
    execFileSync(bin, bin === "npm" ? [...args, "--prefer-offline"] : args, { cwd: app, stdio: ["ignore", "pipe", "pipe"] });
  }
  // The code is root's in the image and read-only to its user: here read-only to everyone.
  execFileSync("chmod", ["-R", "a-w,a+rX", app]);
  // HOME from the base image's passwd entry for its `node` user, and /tmp, read-only as under
  // Kubernetes' readOnlyRootFilesystem: the server must write nowhere but DATA_DIR.
  for (const dir of ["home/node", "tmp", "run/secrets"]) mkdirSync(at(dir), { recursive: true });
  writeFileSync(at(image.env.API_KEYS_FILE), JSON.stringify([{ key: KEY, scopes: ["predict", "monitor"] }]));
  mkdirSync(at(image.env.DATA_DIR), { recursive: true });
  if (asRoot) chownSync(at(image.env.DATA_DIR), image.uid!, image.gid!);
  makeTree(at("home"), 0o555);
  makeTree(at("tmp"), 0o555);
  chmodSync(at(image.env.API_KEYS_FILE), 0o444);
  chmodSync(root, 0o755);
  env = {
    PATH: `${dirname(NODE)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: at("home/node"),
    TMPDIR: at("tmp"),
    ...Object.fromEntries(Object.entries(image.env).map(([k, v]) => [k, v.startsWith("/") ? at(v) : v])),
    PORT: "0",
  };
}, 180_000);

afterAll(() => {
  if (!root) return;
  execFileSync("chmod", ["-R", "u+w", root]);
  rmSync(root, { recursive: true, force: true });
});

describe("the image's command, run as the image runs it", () => {
  let child: ChildProcess;
  let output: ReturnType<typeof watch>;
  let url: string;
  let port: string;
  beforeAll(async () => {
    child = run(image.cmd);
    output = watch(child);
    const listening = await until("the listening line", () => /listening on (http:\/\/\S+:(\d+))/.exec(output.stdout) ?? undefined);
    port = listening[2];
    url = `http://127.0.0.1:${port}`;
  }, 60_000);
  afterAll(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });

  it("holds the production dependencies and none of the dev dependencies", () => {
    const installed = (name: string) => existsSync(at(`${image.workdir}/node_modules/${name}/package.json`));
    expect(Object.keys(pkg.dependencies).filter((name) => !installed(name))).toEqual([]);
    expect(Object.keys(pkg.devDependencies).filter(installed)).toEqual([]);
  });

  it("is live at once and becomes ready; the HEALTHCHECK command agrees", async () => {
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    await until("/health/ready", async () => ((await fetch(`${url}/health/ready`)).status === 200 ? true : undefined));
    const health = await (await fetch(`${url}/health`)).json();
    expect(health.runtime).toBe(`node ${execFileSync(NODE, ["--version"], { encoding: "utf8" }).trim().slice(1)}`);
    const check = watch(run(image.healthcheck!.cmd, { PORT: port }));
    expect(await check.exit).toBe(0);
  });

  it("predicts with a key from the keys file, and refuses a call without one", async () => {
    const [customer] = readCsvRecords(1);
    const predict = (headers: Record<string, string>) => fetch(`${url}/predict`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(customer) });
    const ok = await predict({ authorization: `Bearer ${KEY}` });
    expect(ok.status).toBe(200);
    const body = await ok.json();
    expect(body.churn_probability).toBeGreaterThan(0);
    expect(body.churn_probability).toBeLessThan(1);
    expect((await predict({})).status).toBe(401);
  });

  it("writes its state in DATA_DIR", () => {
    expect(readdirSync(at(image.env.DATA_DIR)).sort()).toEqual(expect.arrayContaining(["log", "outbox"]));
  });

  it("stops on SIGTERM with exit code 0, and the HEALTHCHECK then fails", async () => {
    child.kill("SIGTERM");
    expect(await output.exit).toBe(0);
    expect(output.stdout).toContain("SIGTERM: finishing in-flight requests");
    const check = watch(run(image.healthcheck!.cmd, { PORT: port }));
    expect(await check.exit).toBe(1);
  });
});

describe("the image's command refuses to start", () => {
  it("when the data directory is not writable by the image's user", async () => {
    const readOnly = at("data-read-only");
    mkdirSync(readOnly, { mode: 0o555 });
    if (!asRoot) chmodSync(readOnly, 0o555);
    const out = watch(run(image.cmd, { DATA_DIR: readOnly }));
    expect(await out.exit).toBe(2);
    expect(out.stderr).toMatch(new RegExp(`DATA_DIR ${readOnly.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not writable by uid 1000`));
  });

  it("without the API keys file it expects", async () => {
    const out = watch(run(image.cmd, { API_KEYS_FILE: at("run/secrets/missing.json") }));
    expect(await out.exit).toBe(2);
    expect(out.stderr).toMatch(/API_KEYS_FILE: cannot read .*missing\.json/);
  });
});
