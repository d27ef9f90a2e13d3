// The Kubernetes base k8s/base/, checked without a cluster: every object against the Kubernetes
// schema (kubernetes-models), then the things a schema cannot know — probes on the paths the
// services serve, env names the config schema knows, the required secret, images images.sh
// builds, Service/Ingress ports, the chat drain budget, fixed replica counts (no autoscaler in
// the base), and the components' HPA and KEDA triggers per partition. The overlays, built with
// `kubectl kustomize`, and the NetworkPolicies: k8s-overlays.test.ts; Redis ACL and MongoDB
// users on real servers: k8s-datastores.test.ts.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../services/shared/config.js';
import { INGEST_GROUP, keysFor } from '../../services/shared/keys.js';
import { metricOfSeries, registeredMetrics, seriesIn } from '../helpers/metrics.js';
import {
  ADMIN_PORT,
  DEPLOYMENTS,
  K8S_COMPONENTS,
  K8S_DIR,
  K8S_EXAMPLES,
  NAMESPACE,
  SERVICES,
  SERVICE_PORT,
  find,
  imageRepo,
  imageTag,
  imagesShBuilds,
  k8sApplyFiles,
  k8sObjects,
  kustomization,
  mainContainer,
  podContainers,
  podEnv,
  type Obj,
} from './load.js';
import { K8S_VALIDATORS } from './k8s-validators.js';


const objects = k8sObjects();
const all = objects.map((o) => o.obj);
const secretExamples = k8sObjects([join(K8S_EXAMPLES, 'secret.example.yaml')]);
const secretExample = secretExamples.find((o) => o.obj.metadata.name === 'aurorachat-secrets')!.obj;
const configMap = find(objects, 'ConfigMap', 'aurorachat-config')!;
const deployments = all.filter((o) => o.kind === 'Deployment');
const statefulSets = all.filter((o) => o.kind === 'StatefulSet');
const workloads = [...deployments, ...statefulSets];
const appDeployment = (svc: string) => find(objects, 'Deployment', svc)!;

/** A Redis memory size (`1536mb`, `1gb`, bytes): Redis units, k/m/g = 1000^n, kb/mb/gb = 1024^n. */
function redisBytes(v: string): number {
  const m = /^(\d+)(k|kb|m|mb|g|gb)?$/i.exec(v)!;
  const unit = { k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[m[2]?.toLowerCase() as 'k'] ?? 1;
  return Number(m[1]) * unit;
}
/** A Kubernetes quantity of memory (`2Gi`, `512Mi`, `1G`). */
function k8sBytes(v: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(v)!;
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }[m[2] as 'Ki'] ?? 1;
  return Number(m[1]) * unit;
}

const containerEnv = (container: Obj, secretData: Record<string, string>, podName: string) =>
  podEnv(objects, container, secretData, podName);

describe('k8s/base manifests', () => {
  it('every object passes the Kubernetes schema for its kind (CRDs are checked by hand below)', () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const { file, obj } of [...objects, ...secretExamples]) {
      const key = `${obj.apiVersion}/${obj.kind}`;
      if (obj.apiVersion === 'keda.sh/v1alpha1' && obj.kind === 'ScaledObject') continue;
      if (obj.apiVersion === 'monitoring.coreos.com/v1' && obj.kind === 'PrometheusRule') continue;
      const Model = K8S_VALIDATORS[key];
      expect(Model, `${file}: no validator for ${key} — add one or check it by hand`).toBeDefined();
      expect(() => new Model!(obj).validate(), `${file} ${key} ${obj.metadata?.name}`).not.toThrow();
    }
  });

  it('puts everything in the aurorachat namespace, the Namespace itself first', () => {
    const files = k8sApplyFiles();
    expect(files[0]).toBe('00-namespace.yaml');
    expect(objects[0]!.obj).toMatchObject({ kind: 'Namespace', metadata: { name: NAMESPACE } });
    for (const o of all.slice(1)) expect(o.metadata?.namespace, `${o.kind}/${o.metadata?.name}`).toBe(NAMESPACE);
  });

  it('kubectl apply -f k8s/base/ and apply -k k8s/base apply the same files, and the Secret example is in neither', () => {
    const k = kustomization();
    expect(k.kind).toBe('Kustomization');
    expect(k.namespace).toBe(NAMESPACE);
    expect([...k.resources].sort()).toEqual(k8sApplyFiles());
    expect(k8sApplyFiles().some((f) => /secret/i.test(f))).toBe(false);
    // kubectl apply -f reads *.yaml — a kustomization.yaml there would be applied as an object.
    expect(readdirSync(K8S_DIR)).not.toContain('kustomization.yaml');
    expect(readdirSync(K8S_DIR)).not.toContain('kustomization.yml');
  });

  it('every Deployment and StatefulSet has liveness and readiness probes, and resource requests and limits', () => {
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual(['assistant', 'chat', 'ingestion', 'mongo', 'redis', 'users']);
    for (const w of workloads) {
      for (const c of podContainers(w)) {
        const where = `${w.kind}/${w.metadata.name} container ${c.name}`;
        expect(c.livenessProbe, `${where}: livenessProbe`).toBeDefined();
        expect(c.readinessProbe, `${where}: readinessProbe`).toBeDefined();
        for (const kind of ['requests', 'limits'])
          for (const r of ['cpu', 'memory']) expect(c.resources?.[kind]?.[r], `${where}: resources.${kind}.${r}`).toBeDefined();
      }
    }
  });

  it.each(DEPLOYMENTS)('%s: liveness and startup probe /healthz on the service port, readiness /readyz on the admin port; Prometheus scrapes the admin port', (svc) => {
    const d = appDeployment(svc);
    const c = mainContainer(d);
    const named = new Map<string, number>(c.ports.map((p: Obj) => [p.name, p.containerPort]));
    const portOf = (p: string | number) => (typeof p === 'number' ? p : named.get(p));
    expect(c.ports).toEqual([{ name: 'http', containerPort: SERVICE_PORT[svc] }, { name: 'admin', containerPort: ADMIN_PORT[svc] }]);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(portOf(c.livenessProbe.httpGet.port)).toBe(SERVICE_PORT[svc]);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(portOf(c.readinessProbe.httpGet.port)).toBe(ADMIN_PORT[svc]);
    if (c.startupProbe) expect(c.startupProbe.httpGet.path).toBe('/healthz');
    // PORT and ADMIN_PORT make the service listen where the probes and the Service point.
    expect(c.env.find((e: Obj) => e.name === 'PORT')?.value).toBe(String(SERVICE_PORT[svc]));
    expect(c.env.find((e: Obj) => e.name === 'ADMIN_PORT')?.value).toBe(String(ADMIN_PORT[svc]));
    const a = d.spec.template.metadata.annotations;
    expect(a).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(ADMIN_PORT[svc]), 'prometheus.io/path': '/metrics' });
  });

  it('app pods run as non-root without privilege escalation, root filesystem read-only', () => {
    for (const svc of DEPLOYMENTS) {
      const d = appDeployment(svc);
      expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      expect(d.spec.template.spec.securityContext.runAsUser).toBeGreaterThan(0);
      const c = mainContainer(d);
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    }
  });

  it('every env name, ConfigMap key and Secret key is a variable the config schema knows', () => {
    const known = new Set<string>(CONFIG_VARIABLES);
    for (const key of Object.keys(configMap.data)) expect(known.has(key), `ConfigMap key ${key}`).toBe(true);
    for (const key of Object.keys(secretExample.stringData ?? secretExample.data))
      expect(known.has(key), `Secret key ${key}`).toBe(true);
    for (const svc of DEPLOYMENTS)
      for (const e of mainContainer(appDeployment(svc)).env ?? [])
        expect(known.has(e.name), `${svc} env ${e.name}`).toBe(true);
  });

  it('the shared ConfigMap holds no per-pod value and no secret', () => {
    // ASSISTANT_ENABLED differs per Deployment (false on ingestion); the API key is a secret.
    for (const key of ['PORT', 'ADMIN_PORT', 'REPLICA_ID', 'INGEST_CONSUMER', 'JWT_SECRET', 'ASSISTANT_ENABLED', 'ASSISTANT_API_KEY'])
      expect(configMap.data, `ConfigMap must not set ${key}`).not.toHaveProperty(key);
    expect(configMap.data.NODE_ENV).toBe('production');
  });

  it.each(DEPLOYMENTS)('%s: the assembled pod environment passes loadConfig in production with a real secret', (svc) => {
    const c = mainContainer(appDeployment(svc));
    const env = containerEnv(c, { JWT_SECRET: 'x'.repeat(16) + 'a-real-random-secret-of-48-chars' }, `${svc}-7d9f-abcde`);
    const config = loadConfig(svc, env);
    expect(config.isProduction).toBe(true);
    expect(config.port).toBe(SERVICE_PORT[svc]);
    expect(config.adminPort).toBe(ADMIN_PORT[svc]);
    expect(config.store).toBe('mongo');
    expect(config.replicaId).toBe(`${svc}-7d9f-abcde`);
    expect(config.PUBLIC_WS_URL).toBe('/ws');
  });

  it.each(DEPLOYMENTS)('%s: JWT_SECRET comes from the Secret, and the committed example cannot start a pod', (svc) => {
    const c = mainContainer(appDeployment(svc));
    const fromSecret =
      (c.envFrom ?? []).some((f: Obj) => f.secretRef?.name === 'aurorachat-secrets') ||
      (c.env ?? []).some((e: Obj) => e.name === 'JWT_SECRET' && e.valueFrom?.secretKeyRef?.name === 'aurorachat-secrets');
    expect(fromSecret).toBe(true);
    expect(secretExample.stringData).toHaveProperty('JWT_SECRET');
    if (svc === 'ingestion' || svc === 'assistant') {
      // Workers never sign or verify tokens: they start without the secret.
      expect(() => loadConfig(svc, containerEnv(c, {}, 'p'))).not.toThrow();
      return;
    }
    // Without the Secret the service refuses to run in production (the dev default)...
    expect(() => loadConfig(svc, containerEnv(c, {}, 'p'))).toThrow(ConfigError);
    // ...and with the placeholder of the committed example as well.
    expect(() => loadConfig(svc, containerEnv(c, secretExample.stringData, 'p'))).toThrow(/JWT_SECRET/);
  });

  it('REDIS_URL and MONGO_URL point at the Services of the Redis and MongoDB StatefulSets', () => {
    for (const [key, svc, port] of [['REDIS_URL', 'redis', 6379], ['MONGO_URL', 'mongo', 27017]] as const) {
      const url = new URL(configMap.data[key]);
      expect(url.hostname.split('.')[0]).toBe(svc);
      expect(Number(url.port)).toBe(port);
      const service = find(objects, 'Service', svc)!;
      expect(service.spec.ports.map((p: Obj) => p.port)).toContain(port);
      const sts = find(objects, 'StatefulSet', svc)!;
      expect(sts.spec.serviceName).toBe(svc);
      expect(service.spec.clusterIP).toBe('None');
    }
  });

  it('Redis runs with AOF on a PersistentVolumeClaim and never evicts keys', () => {
    const redis = find(objects, 'StatefulSet', 'redis')!;
    const args: string[] = mainContainer(redis).args;
    expect(args[args.indexOf('--appendonly') + 1]).toBe('yes');
    expect(args[args.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    // A bound below the container's memory limit, with room for the AOF rewrite's fork and
    // fragmentation: Redis refuses writes (OOM) before the kubelet kills it.
    const maxmemory = redisBytes(args[args.indexOf('--maxmemory') + 1]!);
    const limit = k8sBytes(mainContainer(redis).resources.limits.memory);
    expect(maxmemory).toBeGreaterThan(0);
    expect(maxmemory).toBeLessThanOrEqual(limit * 0.8);
    const dataDir = args[args.indexOf('--dir') + 1];
    const claim = redis.spec.volumeClaimTemplates[0];
    expect(mainContainer(redis).volumeMounts).toContainEqual({ name: claim.metadata.name, mountPath: dataDir });
    expect(mainContainer(find(objects, 'StatefulSet', 'mongo')!).image).toMatch(/^mongo:7/);
    expect(find(objects, 'StatefulSet', 'mongo')!.spec.volumeClaimTemplates).toHaveLength(1);
  });

  it('a PrometheusRule alerts on Redis memory over 80 % of maxmemory and on dead letters, using metrics the services export', () => {
    const rules = all.filter((o) => o.kind === 'PrometheusRule');
    expect(rules).toHaveLength(1);
    const rule = rules[0]!;
    // No schema for the CRD in kubernetes-models: its structure by hand (monitoring.coreos.com/v1).
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(typeof rule.metadata.name).toBe('string');
    expect(Object.keys(rule.spec)).toEqual(['groups']);
    const groupNames = rule.spec.groups.map((g: Obj) => g.name);
    expect(new Set(groupNames).size).toBe(groupNames.length);
    const alerts = new Map<string, Obj>();
    for (const g of rule.spec.groups) {
      expect(typeof g.name).toBe('string');
      expect(Array.isArray(g.rules) && g.rules.length > 0, `group ${g.name} has rules`).toBe(true);
      for (const r of g.rules) {
        for (const key of Object.keys(r)) expect(['alert', 'expr', 'for', 'labels', 'annotations'], `rule key ${key}`).toContain(key);
        expect(typeof r.alert).toBe('string');
        expect(typeof r.expr).toBe('string');
        if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
        expect(['warning', 'critical']).toContain(r.labels?.severity);
        expect(typeof r.annotations?.summary).toBe('string');
        // balanced brackets: the cheapest PromQL syntax check without a parser
        for (const [open, close] of [['(', ')'], ['{', '}'], ['[', ']']])
          expect(r.expr.split(open).length, `${r.alert}: ${open}${close}`).toBe(r.expr.split(close).length);
        alerts.set(r.alert, r);
      }
    }
    const memory = [...alerts.values()].find((r) => /aurora_chat_redis_used_memory_bytes/.test(r.expr) && /> 0\.8\s*$/.test(r.expr.trim()))!;
    expect(memory, 'an alert at 80 % of maxmemory').toBeDefined();
    expect(memory.expr).toMatch(/aurora_chat_redis_maxmemory_bytes/);
    const dead = [...alerts.values()].find((r) => /aurora_ingestion_dead_letter_entries/.test(r.expr))!;
    expect(dead.expr.trim()).toMatch(/> 0$/);
    expect(dead.for).toBe('5m');
    expect(dead.labels.severity).toBe('warning');
    // every metric an alert names is one the code registers (labels and more: observability.test.ts)
    const metrics = registeredMetrics();
    for (const r of alerts.values())
      for (const series of seriesIn(r.expr)) expect(metricOfSeries(series, metrics), `${r.alert}: ${series}`).toBeDefined();
  });

  it('the app images are exactly the three images.sh builds', () => {
    const built = imagesShBuilds().map(imageRepo).sort();
    expect(built).toEqual(['aurorachat-chat', 'aurorachat-ingestion', 'aurorachat-users']);
    const used = SERVICES.map((svc) => imageRepo(mainContainer(appDeployment(svc)).image)).sort();
    expect(used).toEqual(built);
    for (const svc of SERVICES) expect(imageRepo(mainContainer(appDeployment(svc)).image)).toBe(`aurorachat-${svc}`);
    const pinned = kustomization().images.map((i: Obj) => i.name as string);
    expect(pinned.filter((n: string) => n.startsWith('aurorachat-')).sort()).toEqual(built);
  });

  it('every image is pinned to a version, in the manifests and in the kustomization alike (no latest, no bare major)', () => {
    const pins = new Map<string, string>(kustomization().images.map((i: Obj) => [i.name, String(i.newTag)]));
    const images = workloads.flatMap((w) => podContainers(w).map((c) => c.image as string));
    expect(new Set(images.map(imageRepo))).toEqual(new Set(pins.keys()));
    for (const image of images) {
      const tag = imageTag(image);
      expect(tag, `${image}: a tag of at least major.minor`).toMatch(/^\d+\.\d+(\.\d+)?([-.][\w.]+)?$/);
      // `kubectl apply -f k8s/base/` runs what `-k` pins
      expect(pins.get(imageRepo(image)), image).toBe(tag);
    }
  });

  it('each Service selects its workload and forwards to a named container port of the right number', () => {
    const services = all.filter((o) => o.kind === 'Service');
    for (const s of services) {
      const w = workloads.find((x) =>
        Object.entries(s.spec.selector).every(([k, v]) => x.spec.template.metadata.labels[k] === v),
      );
      expect(w, `Service ${s.metadata.name} selects no workload`).toBeDefined();
      const cports = podContainers(w!).flatMap((c) => c.ports);
      for (const p of s.spec.ports) {
        const target = cports.find((cp: Obj) => cp.name === p.targetPort || cp.containerPort === p.targetPort);
        expect(target, `Service ${s.metadata.name} targetPort ${p.targetPort}`).toBeDefined();
        expect(target.containerPort).toBe(p.port);
      }
    }
    for (const svc of DEPLOYMENTS)
      expect(find(objects, 'Service', svc)!.spec.ports.map((p: Obj) => `${p.name}:${p.port}`)).toEqual([`http:${SERVICE_PORT[svc]}`, `admin:${ADMIN_PORT[svc]}`]);
  });

  it('the Ingress routes /ws to chat:8080 and /api and / to users:4000 — never an admin port — with WebSocket timeouts and no affinity', () => {
    const ing = find(objects, 'Ingress', 'aurorachat')!;
    const routes = Object.fromEntries(
      ing.spec.rules[0].http.paths.map((p: Obj) => [p.path, `${p.backend.service.name}:${p.backend.service.port.number}`]),
    );
    expect(routes).toEqual({ '/ws': 'chat:8080', '/api': 'users:4000', '/': 'users:4000' });
    // never an admin port (/readyz, /metrics), by number or by name
    for (const p of ing.spec.rules.flatMap((r: Obj) => r.http.paths)) {
      const port = p.backend.service.port;
      expect(Object.values(ADMIN_PORT)).not.toContain(port.number);
      expect(port.name).not.toBe('admin');
    }
    expect(ing.spec.defaultBackend).toBeUndefined();
    const a = ing.metadata.annotations;
    expect(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Object.keys(a).filter((k) => /affinity|upstream-hash-by|sticky/.test(k))).toEqual([]);
    // Same origin: the public host is the origin chat accepts, and the client is told /ws.
    const host = ing.spec.rules[0].host;
    expect(configMap.data.ALLOWED_ORIGINS.split(',')).toContain(`https://${host}`);
    expect(ing.spec.tls[0].hosts).toContain(host);
  });

  it('the Gateway API alternative (examples/gateway-httproute.yaml) routes the same paths to the same ports', () => {
    const route = k8sObjects([join(K8S_EXAMPLES, 'gateway-httproute.yaml')])[0]!.obj;
    expect(route).toMatchObject({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { namespace: NAMESPACE } });
    const routes: Record<string, string> = {};
    for (const rule of route.spec.rules)
      for (const m of rule.matches) routes[m.path.value] = `${rule.backendRefs[0].name}:${rule.backendRefs[0].port}`;
    expect(routes).toEqual({ '/ws': 'chat:8080', '/api': 'users:4000', '/': 'users:4000' });
    const ing = find(objects, 'Ingress', 'aurorachat')!;
    expect(route.spec.hostnames).toEqual([ing.spec.rules[0].host]);
  });

  it('the base has no autoscaler: every Deployment has its replica count, chat two, for `kubectl scale` to change', () => {
    expect(all.filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject')).toEqual([]);
    for (const d of deployments) expect(d.spec.replicas, d.metadata.name).toBeGreaterThanOrEqual(2);
    expect(appDeployment('chat').spec.replicas).toBe(2);
  });

  it('chat: the autoscale component\'s HPA (autoscaling/v2, min 2) targets it and drops its replicas; a PDB limits disruptions', () => {
    const chat = appDeployment('chat');
    const component = kustomization(join(K8S_COMPONENTS, 'autoscale'));
    expect(component.kind).toBe('Component');
    // replicas in the manifest would fight the HPA on every apply: the component removes them
    expect(component.patches).toContainEqual({
      target: { group: 'apps', version: 'v1', kind: 'Deployment', name: 'chat' },
      patch: '- op: remove\n  path: /spec/replicas',
    });
    const hpaObjs = k8sObjects(component.resources.map((f: string) => join(K8S_COMPONENTS, 'autoscale', f)));
    const hpa = find(hpaObjs, 'HorizontalPodAutoscaler', 'chat')!;
    expect(() => new HorizontalPodAutoscaler(hpa as never).validate()).not.toThrow();
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'chat' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    const pdb = find(objects, 'PodDisruptionBudget', 'chat')!;
    expect(pdb.spec.selector.matchLabels).toEqual(chat.spec.selector.matchLabels);
    expect(chat.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it.each(DEPLOYMENTS)('%s: terminationGracePeriodSeconds exceeds preStop + SHUTDOWN_DRAIN_MS + the 15 s shutdown deadline margin', (svc) => {
    const d = appDeployment(svc);
    const c = mainContainer(d);
    const pre: string[] = c.lifecycle?.preStop?.exec?.command ?? [];
    const preStop = pre[0] === 'sleep' ? Number(pre[1]) : 0;
    const drain = Number(configMap.data.SHUTDOWN_DRAIN_MS) / 1000;
    const grace = d.spec.template.spec.terminationGracePeriodSeconds;
    // main.ts passes SHUTDOWN_DRAIN_MS + 15 s to onShutdown as its hard deadline.
    expect(grace).toBeGreaterThan(preStop + drain + 15);
    // Workers take no traffic a load balancer must first stop sending: no preStop pause needed.
    if (svc !== 'ingestion' && svc !== 'assistant') expect(preStop, `${svc} needs a preStop pause`).toBeGreaterThanOrEqual(3);
  });

  it('ingestion: the keda component\'s ScaledObject scales on the consumer group lag of every partition stream, as the Redis ACL user', () => {
    const component = kustomization(join(K8S_COMPONENTS, 'keda'));
    expect(component.kind).toBe('Component');
    expect(component.patches).toContainEqual({
      target: { group: 'apps', version: 'v1', kind: 'Deployment', name: 'ingestion' },
      patch: '- op: remove\n  path: /spec/replicas',
    });
    const kedaObjs = k8sObjects(component.resources.map((f: string) => join(K8S_COMPONENTS, 'keda', f)));
    const so = find(kedaObjs, 'ScaledObject', 'ingestion')!;
    const auth = find(kedaObjs, 'TriggerAuthentication', 'aurorachat-redis')!;
    expect(auth.apiVersion).toBe('keda.sh/v1alpha1');
    // the credentials the in-cluster Redis is started with (10-redis.yaml)
    const datastores = secretExamples.find((o) => o.obj.metadata.name === 'aurorachat-datastores')!.obj;
    expect(auth.spec.secretTargetRef).toEqual([
      { parameter: 'username', name: datastores.metadata.name, key: 'REDIS_USERNAME' },
      { parameter: 'password', name: datastores.metadata.name, key: 'REDIS_PASSWORD' },
    ]);
    for (const t of so.spec.triggers) expect(t.authenticationRef).toEqual({ name: auth.metadata.name });
    expect(so.apiVersion).toBe('keda.sh/v1alpha1');
    expect(so.spec.scaleTargetRef.name).toBe('ingestion');
    expect(find(objects, 'Deployment', so.spec.scaleTargetRef.name)).toBeDefined();
    expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(2);
    expect(so.spec.maxReplicaCount).toBeGreaterThan(so.spec.minReplicaCount);
    const partitions = Number(configMap.data.PARTITIONS);
    const streams = so.spec.triggers.map((t: Obj) => {
      expect(t.type).toBe('redis-streams');
      expect(t.metadata.consumerGroup).toBe(INGEST_GROUP);
      expect(Number(t.metadata.lagCount ?? t.metadata.pendingEntriesCount)).toBeGreaterThan(0);
      const [host, port] = t.metadata.address.split(':');
      expect(host.split('.')[0]).toBe('redis');
      expect(Number(port)).toBe(6379);
      return t.metadata.stream;
    });
    expect(streams).toEqual(keysFor(partitions).allIngestStreams());
    // Ingestion runs with two workers in the base, where KEDA need not be installed.
    expect(appDeployment('ingestion').spec.replicas).toBeGreaterThanOrEqual(2);
  });

  it('users runs at least two replicas behind its Service', () => {
    expect(appDeployment('users').spec.replicas).toBeGreaterThanOrEqual(2);
  });
});
