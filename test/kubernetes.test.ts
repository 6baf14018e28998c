// deploy/kubernetes.yaml (and the models-volume patch) checked offline against the Kubernetes
// API's JSON schemas as kubernetes-models bundles them, strictly (a field the schema does not
// know is refused, as the API server's strict field validation does), then against what the
// service needs: stateless replicas, probes on the right endpoints, a drain before SIGTERM, a
// locked-down container matching the image's user, and only the API on the public Ingress.
import { readFileSync } from "node:fs";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { Service } from "kubernetes-models/v1";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { parse, parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { readDockerfile } from "./helpers/dockerfile.ts";

const MANIFEST = "deploy/kubernetes.yaml";
const MODELS_PATCH = "deploy/k8s/models-volume.yaml";

// Parsed YAML: its shape is what the schema validation and the assertions check.
type Json = any;

const MODELS: Record<string, { prototype: { validate(): void } }> = {
  "apps/v1 Deployment": Deployment,
  "v1 Service": Service,
  "networking.k8s.io/v1 Ingress": Ingress,
  "policy/v1 PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2 HorizontalPodAutoscaler": HorizontalPodAutoscaler,
};

/**
 * Schema errors of one object, and the fields the schema does not know. The compiled validators
 * read every property their schema names (and every entry of a map), so a field never read
 * during a successful validation is one the schema lacks: a typo the API server would refuse.
 */
function validate(doc: Json): string[] {
  const key = `${doc?.apiVersion} ${doc?.kind}`;
  const model = MODELS[key];
  if (!model) return [`no schema here for ${key}`];
  const unread = new Set<string>();
  const track = (value: Json, path: string): Json => {
    if (Array.isArray(value)) return value.map((v, i) => track(v, `${path}[${i}]`));
    if (value === null || typeof value !== "object") return value;
    const copy: Json = {};
    for (const [k, v] of Object.entries(value)) {
      copy[k] = track(v, `${path}.${k}`);
      unread.add(`${path}.${k}`);
    }
    return new Proxy(copy, {
      get(target, k, receiver) {
        if (typeof k === "string") unread.delete(`${path}.${k}`);
        return Reflect.get(target, k, receiver);
      },
    });
  };
  try {
    model.prototype.validate.call(track(doc, doc.kind));
  } catch (err) {
    return [(err as Error).message];
  }
  return [...unread].map((path) => `${path}: unknown field`);
}

function documents(path: string): Json[] {
  return parseAllDocuments(readFileSync(path, "utf8")).map((d) => {
    if (d.errors.length) throw new Error(`${path}: ${d.errors.map((e) => e.message).join("; ")}`);
    return d.toJS();
  });
}

/** kubectl's strategic merge for what the patch uses: objects merge, lists of named objects merge by name. */
function strategicMerge(base: Json, patch: Json): Json {
  if (Array.isArray(base) && Array.isArray(patch) && [...base, ...patch].every((e) => e && typeof e === "object" && "name" in e)) {
    const out = [...base];
    for (const p of patch) {
      const i = out.findIndex((b) => b.name === p.name);
      if (i >= 0) out[i] = strategicMerge(out[i], p);
      else out.push(p);
    }
    return out;
  }
  if (base && patch && typeof base === "object" && typeof patch === "object" && !Array.isArray(base) && !Array.isArray(patch)) {
    const out = { ...base };
    for (const [k, v] of Object.entries(patch)) out[k] = k in base ? strategicMerge(base[k], v) : v;
    return out;
  }
  return patch;
}

/** Whether an Ingress path rule sends `path` to its backend (Exact, or Prefix by path element). */
function routes(rule: { path: string; pathType: string }, path: string): boolean {
  if (rule.pathType === "Exact") return path === rule.path;
  const prefix = rule.path.replace(/\/$/, "");
  return prefix === "" || path === prefix || path.startsWith(`${prefix}/`);
}

const docs = documents(MANIFEST);
const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
const deployment = byKind("Deployment")[0];
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const image = readDockerfile();

describe("the manifests against the Kubernetes schemas", () => {
  it("every object of deploy/kubernetes.yaml is valid, with no unknown field", () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(["Deployment", "HorizontalPodAutoscaler", "Ingress", "PodDisruptionBudget", "Service"]);
    for (const doc of docs) expect(validate(doc), `${doc.kind} ${doc.metadata?.name}`).toEqual([]);
  });

  it("the validator is not vacuous: a wrong type, a missing field and a misspelt one are refused", () => {
    const wrongType = strategicMerge(deployment, { spec: { replicas: "three" } });
    expect(validate(wrongType).join()).toMatch(/replicas must be integer/);
    const noSelector = structuredClone(deployment);
    delete noSelector.spec.selector;
    expect(validate(noSelector).join()).toMatch(/spec must have required property selector/);
    const typo = strategicMerge(deployment, { spec: { template: { spec: { containers: [{ name: "service", livenessProbe: { periodSecond: 10 } }] } } } });
    expect(validate(typo)).toEqual(["Deployment.spec.template.spec.containers[0].livenessProbe.periodSecond: unknown field"]);
  });

  it("the models-volume patch applies to the Deployment and the result is valid", () => {
    const patched = strategicMerge(deployment, parse(readFileSync(MODELS_PATCH, "utf8")));
    expect(validate(patched)).toEqual([]);
    const c = patched.spec.template.spec.containers[0];
    expect(c.env).toContainEqual({ name: "MODELS_DIR", value: "/models" });
    expect(c.volumeMounts).toContainEqual({ name: "models", mountPath: "/models", readOnly: true });
    expect(patched.spec.template.spec.volumes.find((v: Json) => v.name === "models").persistentVolumeClaim.readOnly).toBe(true);
    // Only additions: what the Deployment already had is still there.
    expect(c.volumeMounts).toEqual(expect.arrayContaining(container.volumeMounts));
    expect(c.env).toEqual(expect.arrayContaining(container.env));
  });
});

describe("the Deployment", () => {
  it("runs stateless replicas: no StatefulSet, no claim, DATA_DIR on a volume of the pod", () => {
    expect(byKind("StatefulSet")).toEqual([]);
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    const dataDir = container.env.find((e: Json) => e.name === "DATA_DIR")?.value ?? image.env.DATA_DIR;
    const mount = container.volumeMounts.find((m: Json) => m.mountPath === dataDir);
    expect(pod.volumes.find((v: Json) => v.name === mount?.name)?.emptyDir).toBeDefined();
    expect(pod.volumes.some((v: Json) => v.persistentVolumeClaim)).toBe(false);
  });

  it("takes DATABASE_URL from a Secret and turns access control on from a Secret's file", () => {
    const env = Object.fromEntries(container.env.map((e: Json) => [e.name, e]));
    expect(env.DATABASE_URL.valueFrom.secretKeyRef).toMatchObject({ name: expect.any(String), key: expect.any(String) });
    expect(env.DATABASE_URL.value).toBeUndefined();
    expect(env.API_KEYS).toBeUndefined();
    const keysFile: string = env.API_KEYS_FILE.value;
    const mount = container.volumeMounts.find((m: Json) => keysFile.startsWith(`${m.mountPath}/`));
    const volume = pod.volumes.find((v: Json) => v.name === mount.name);
    expect(volume.secret.items.map((i: Json) => i.path)).toContain(keysFile.slice(mount.mountPath.length + 1));
  });

  it("probes the health endpoints on the image's port, with time for a real start", () => {
    expect(container.ports).toEqual([{ name: "http", containerPort: Number(image.env.PORT) }]);
    expect(container.startupProbe.httpGet).toEqual({ path: "/health/ready", port: "http" });
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBeGreaterThanOrEqual(60);
    expect(container.readinessProbe.httpGet).toEqual({ path: "/health/ready", port: "http" });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/health/live", port: "http" });
  });

  it("drains before SIGTERM, and leaves the server time to finish after it", () => {
    const drain = container.lifecycle.preStop.sleep.seconds;
    expect(drain).toBeGreaterThanOrEqual(5);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(drain + 20);
  });

  it("runs as the image's non-root user, with a read-only root file system and no capabilities", () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: image.uid, runAsGroup: image.gid });
    expect(image.uid).toBeGreaterThan(0);
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it("is what the autoscaler and the disruption budget select", () => {
    const [hpa] = byKind("HorizontalPodAutoscaler");
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
    const [pdb] = byKind("PodDisruptionBudget");
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
  });
});

describe("what is public", () => {
  const services = byKind("Service");
  const [ingress] = byKind("Ingress");
  const paths: Json[] = ingress.spec.rules.flatMap((r: Json) => r.http.paths);
  const published = (path: string) => paths.some((p) => routes(p, path));

  it("no Service is exposed outside the cluster; the Ingress goes to the Deployment's Service", () => {
    for (const s of services) expect(s.spec.type ?? "ClusterIP").toBe("ClusterIP");
    expect(services[0].spec.selector).toEqual(deployment.spec.template.metadata.labels);
    for (const p of paths) expect(p.backend.service.name).toBe(services[0].metadata.name);
  });

  it("the Ingress publishes the API and the health probes", () => {
    for (const path of ["/predict", "/batch-predict", "/plan-budget", "/events", "/outcomes", "/customers/CUST-001", "/customers/import", "/trpc/predict", "/trpc", "/health/ready", "/openapi.json"]) {
      expect(published(path), path).toBe(true);
    }
  });

  it("not the admin route, the console or the metrics", () => {
    for (const path of ["/admin/reload", "/admin", "/console", "/metrics", "/", "/healthz", "/predictions"]) expect(published(path), path).toBe(false);
  });
});
