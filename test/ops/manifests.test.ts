/**
 * Deployment manifests: docker-compose.yml is accepted by docker-compose, and the kustomize base and
 * example overlay render and every object validates against the Kubernetes schemas
 * (kubernetes-models), plus the operational rules: probes, grace periods, parser PDB, KEDA scaling.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { findTool, missingToolNote } from '@lovsync/testkit/support/optional-tools';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';

const ROOT = join(import.meta.dirname, '..', '..');
const K8S = join(ROOT, 'k8s');
const DOCKER_COMPOSE = findTool('docker-compose');
const KUBECTL = findTool('kubectl');

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

const MODELS: Record<
  string,
  { validate(): void } extends never ? never : new (data: never) => { validate(): void }
> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

/** `kubectl kustomize DIR` as objects. kubectl itself turns the YAML into JSON, offline. */
function render(dir: string): K8sObject[] {
  const yaml = execFileSync(KUBECTL!, ['kustomize', dir], { encoding: 'utf8' });
  // A no-op local edit (remove an annotation nobody sets) is kubectl's offline YAML -> JSON converter.
  const json = execFileSync(
    KUBECTL!,
    ['annotate', '--local', '-f', '-', 'lovsync.invalid/none-', '-o', 'json'],
    {
      input: yaml,
      encoding: 'utf8',
    },
  );
  const objects: K8sObject[] = [];
  const decoder = /\S/g;
  let rest = json;
  while (decoder.test(rest)) {
    const { value, end } = parseFirstJson(rest);
    objects.push(value as K8sObject);
    rest = rest.slice(end);
    decoder.lastIndex = 0;
  }
  expect(objects.length).toBe((yaml.match(/^kind: /gm) ?? []).length);
  return objects;
}

/** The first JSON value of a stream of concatenated JSON documents. */
function parseFirstJson(s: string): { value: unknown; end: number } {
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (start < 0) start = i;
      depth++;
    } else if (c === '}' && --depth === 0) return { value: JSON.parse(s.slice(start, i + 1)), end: i + 1 };
  }
  throw new Error('truncated JSON stream');
}

function validateAll(objects: K8sObject[]): void {
  for (const o of objects) {
    const where = `${o.kind}/${o.metadata.name}`;
    if (o.apiVersion === 'keda.sh/v1alpha1' && o.kind === 'ScaledObject') {
      checkScaledObject(o, objects);
      continue;
    }
    if (o.kind === 'Secret' && o.data) {
      // kustomize wraps base64 values longer than 70 characters over several lines; the API
      // server's decoder ignores the newlines, the schema's "byte" format does not.
      const data = o.data as Record<string, string>;
      for (const k of Object.keys(data)) data[k] = data[k]!.replace(/\s+/g, '');
    }
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    expect(Model, `no schema mapped for ${o.apiVersion} ${where}`).toBeDefined();
    // kubernetes-models checks types, enums and required fields (not unknown fields: the specific
    // assertions below cover the fields that matter).
    expect(() => new Model!(o as never).validate(), where).not.toThrow();
  }
}

/** KEDA is a CRD kubernetes-models has no schema for: its required fields, by hand. */
function checkScaledObject(o: K8sObject, all: K8sObject[]): void {
  const spec = o.spec as {
    scaleTargetRef: { name: string; kind?: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    cooldownPeriod: number;
    pollingInterval?: number;
    triggers: { type: string; metadata: Record<string, unknown> }[];
  };
  expect(typeof o.metadata.name).toBe('string');
  expect(spec.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
  expect(all.some((x) => x.kind === 'Deployment' && x.metadata.name === spec.scaleTargetRef.name)).toBe(true);
  expect(Number.isInteger(spec.minReplicaCount)).toBe(true);
  expect(spec.minReplicaCount).toBeGreaterThanOrEqual(1);
  expect(spec.maxReplicaCount).toBeGreaterThanOrEqual(spec.minReplicaCount);
  expect(spec.cooldownPeriod).toBeGreaterThan(0);
  expect(spec.triggers.length).toBeGreaterThan(0);
  for (const t of spec.triggers) {
    expect(typeof t.type).toBe('string');
    // KEDA's trigger metadata is a map of strings: a YAML number there is rejected by the CRD.
    for (const [k, v] of Object.entries(t.metadata)) expect(typeof v, `trigger metadata ${k}`).toBe('string');
  }
}

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const named = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind}/${name}`).toBeDefined();
  return found!;
};

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
}
const podSpec = (o: K8sObject) => (o.spec as { template: { spec: PodSpec } }).template.spec;

/** The operational rules every rendering must keep. */
function checkRules(objects: K8sObject[], opts: { keda: boolean }): void {
  const configMaps = byKind(objects, 'ConfigMap');
  const secrets = byKind(objects, 'Secret');
  const config = configMaps.find((c) => c.metadata.name.startsWith('lovsync-config'));
  const configData = (config?.data ?? {}) as Record<string, string>;
  expect(configData.QUEUE_PREFIX).toBeDefined();

  const deployments = byKind(objects, 'Deployment');
  expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['differ', 'parser', 'sync']);
  expect((named(objects, 'Deployment', 'sync').spec as { replicas: number }).replicas).toBe(1);

  for (const d of deployments) {
    const pod = podSpec(d);
    const where = `Deployment/${d.metadata.name}`;
    for (const c of pod.containers) {
      expect(c.readinessProbe?.httpGet?.path, `${where} readiness`).toBe('/readyz');
      expect(c.livenessProbe?.httpGet?.path, `${where} liveness`).toBe('/healthz');
      for (const r of ['cpu', 'memory']) {
        expect(c.resources?.requests?.[r], `${where} requests.${r}`).toBeDefined();
        expect(c.resources?.limits?.[r], `${where} limits.${r}`).toBeDefined();
      }
      expect(c.args?.slice(0, 3), where).toEqual(['lovsync', 'serve', '--role']);
      expect(c.args?.[3], where).toBe(d.metadata.name);
      expect(c.image, `${where} image is pinned by the overlay/base`).toMatch(/.+\/.+:.+/);
      // env references resolve
      for (const ref of c.envFrom ?? []) {
        if (ref.configMapRef) expect(configMaps.map((x) => x.metadata.name)).toContain(ref.configMapRef.name);
        if (ref.secretRef) expect(secrets.map((x) => x.metadata.name)).toContain(ref.secretRef.name);
      }
      // the grace period outlasts the shutdown bound that applies to this container, and 25 s
      const bound = Number(
        c.env?.find((e) => e.name === 'SHUTDOWN_TIMEOUT_SECONDS')?.value ??
          configData.SHUTDOWN_TIMEOUT_SECONDS ??
          25,
      );
      expect(pod.terminationGracePeriodSeconds, `${where} grace`).toBeGreaterThan(25);
      expect(pod.terminationGracePeriodSeconds, `${where} grace vs SHUTDOWN_TIMEOUT_SECONDS`).toBeGreaterThan(
        bound,
      );
    }
  }

  const pdbs = byKind(objects, 'PodDisruptionBudget');
  const parserLabels = (
    named(objects, 'Deployment', 'parser').spec as { selector: { matchLabels: Record<string, string> } }
  ).selector.matchLabels;
  expect(
    pdbs.some(
      (p) =>
        JSON.stringify((p.spec as { selector: unknown }).selector) ===
        JSON.stringify({ matchLabels: parserLabels }),
    ),
  ).toBe(true);

  const job = named(objects, 'Job', 'lovsync-migrate');
  expect(podSpec(job).containers[0]?.args).toEqual(['lovsync', 'migrate']);

  const service = named(objects, 'Service', 'lovsync-dashboard');
  const syncLabels = (
    named(objects, 'Deployment', 'sync').spec as {
      template: { metadata: { labels: Record<string, string> } };
    }
  ).template.metadata.labels;
  for (const [k, v] of Object.entries((service.spec as { selector: Record<string, string> }).selector))
    expect(syncLabels[k]).toBe(v);

  const scaled = byKind(objects, 'ScaledObject');
  const hpas = byKind(objects, 'HorizontalPodAutoscaler');
  if (opts.keda) {
    expect(scaled).toHaveLength(1);
    expect(hpas).toHaveLength(0);
    const spec = scaled[0]!.spec as {
      scaleTargetRef: { name: string };
      minReplicaCount: number;
      cooldownPeriod: number;
      triggers: { type: string; metadata: Record<string, string> }[];
    };
    expect(spec.scaleTargetRef.name).toBe('parser');
    expect(spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    expect(spec.cooldownPeriod).toBeGreaterThan(0);
    const redis = spec.triggers.find((t) => t.type === 'redis');
    expect(redis?.metadata.listName).toBe(`${configData.QUEUE_PREFIX}:parse:wait`);
    expect(redis?.metadata.listName).toBe('lovsync:parse:wait');
    expect(Number(redis?.metadata.listLength)).toBeGreaterThan(0);
    // addressFromEnv must name a variable the parser container has
    expect(configData[redis!.metadata.addressFromEnv!]).toMatch(/^[^:/]+:\d+$/);
  } else {
    expect(scaled).toHaveLength(0);
    expect(hpas).toHaveLength(1);
    const hpa = hpas[0]!.spec as { scaleTargetRef: { name: string; kind: string }; minReplicas: number };
    expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'parser' });
    expect(hpa.minReplicas).toBeGreaterThanOrEqual(1);
  }
}

describe('kustomize manifests (needs kubectl on PATH)', () => {
  beforeEach((ctx) => {
    if (!KUBECTL) ctx.skip(missingToolNote('kubectl'));
  });
  it('k8s/base renders and validates', () => {
    const objects = render(join(K8S, 'base'));
    validateAll(objects);
    checkRules(objects, { keda: true });
  });

  it('k8s/overlays/example renders and validates, with namespace, image, Ingress and parser replicas', () => {
    const objects = render(join(K8S, 'overlays', 'example'));
    validateAll(objects);
    checkRules(objects, { keda: true });
    for (const o of objects)
      if (o.kind !== 'Namespace')
        expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('lovsync');
    expect(byKind(objects, 'Namespace').map((n) => n.metadata.name)).toEqual(['lovsync']);
    expect((named(objects, 'Deployment', 'parser').spec as { replicas: number }).replicas).toBeGreaterThan(1);
    const ingress = named(objects, 'Ingress', 'lovsync-dashboard').spec as {
      tls: unknown[];
      rules: { http: { paths: { backend: { service: { name: string } } }[] } }[];
    };
    expect(ingress.tls.length).toBeGreaterThan(0);
    expect(ingress.rules[0]?.http.paths[0]?.backend.service.name).toBe('lovsync-dashboard');
    const secret = named(objects, 'Secret', 'lovsync-secrets') as K8sObject & {
      data: Record<string, string>;
    };
    expect(Object.keys(secret.data).sort()).toEqual([
      'DASHBOARD_PASSWORD',
      'DASHBOARD_USER',
      'DATABASE_URL',
      'REDIS_URL',
    ]);
  });

  it('the HPA-on-CPU alternative replaces the ScaledObject and validates', async () => {
    // A throwaway overlay next to nothing: example overlay + the alternatives/parser-hpa component.
    const dir = await mkdtemp(join(tmpdir(), 'lovsync-k8s-'));
    try {
      await writeFile(
        join(dir, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          'resources:',
          `  - ${relative(dir, join(K8S, 'overlays', 'example'))}`,
          'components:',
          `  - ${relative(dir, join(K8S, 'alternatives', 'parser-hpa'))}`,
          '',
        ].join('\n'),
      );
      const objects = render(dir);
      validateAll(objects);
      checkRules(objects, { keda: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('docker-compose.yml (needs docker-compose on PATH: apt-get install -y docker-compose)', () => {
  beforeEach((ctx) => {
    if (!DOCKER_COMPOSE) ctx.skip(missingToolNote('docker-compose'));
  });
  const env = { ...process.env };
  delete env.LOVSYNC_ENV_FILE;
  const compose = (...args: string[]) =>
    spawnSync(DOCKER_COMPOSE!, ['-f', 'docker-compose.yml', ...args], { cwd: ROOT, encoding: 'utf8', env });

  it('docker-compose config accepts it', () => {
    const r = compose('config');
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(r.status).toBe(0);
    const out = r.stdout;
    // per-service sections of the normalised output (two-space indented keys under services:)
    const services = Object.fromEntries(
      out
        .slice(out.indexOf('services:\n') + 'services:\n'.length)
        .split(/^(?= {2}[a-z][\w-]*:\n)/m)
        .map((block) => [/^ {2}([\w-]+):/.exec(block)?.[1] ?? '', block]),
    );
    expect(Object.keys(services).filter(Boolean).sort()).toEqual([
      'differ',
      'migrate',
      'parser',
      'postgres',
      'redis',
      'sync',
    ]);
    for (const name of ['postgres', 'redis', 'sync', 'differ', 'parser'])
      expect(services[name], name).toMatch(/\n {4}healthcheck:\n/);
    for (const name of ['sync', 'differ', 'parser']) {
      expect(services[name], name).toMatch(/\/readyz/);
      expect(services[name], name).toMatch(/migrate:\n\s+condition: service_completed_successfully/);
      expect(services[name], name).toMatch(/DASHBOARD_PASSWORD: /);
    }
    expect(services.parser).toMatch(/deploy:\n\s+replicas: 3/);
    expect(services.sync).toMatch(/- serve\n\s+- --role\n\s+- sync/);
    expect(services.migrate).toMatch(/- lovsync\n\s+- migrate/);
    expect(services.redis).toMatch(/noeviction/);
    expect(services.postgres).toMatch(/image: postgres:15/);
    expect(services.postgres).toMatch(/pg_isready/);
  });

  it('lists the services', () => {
    const r = compose('config', '--services');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual([
      'differ',
      'migrate',
      'parser',
      'postgres',
      'redis',
      'sync',
    ]);
  });
});
