// Every way of deploying to Kubernetes, built offline with `kubectl kustomize` (skipped loudly
// without kubectl): k8s/base and each overlay of k8s/overlays/, plus the components combined as
// README "Combining overlays" describes. Each build: every object against the Kubernetes schema,
// one namespace, pinned images, exactly the base's objects plus/minus what the overlay is for,
// who owns the replica counts, and — evaluated by test/deploy/network-policy.ts — who may talk to
// whom: default deny, the app pods to their Redis, MongoDB and DNS, Redis and MongoDB reachable
// from the app pods only, the ingress controller in on the main ports and Prometheus on the admin
// ports (nothing else reaches those), the assistant and users out.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/shared/config.js';
import { keysFor } from '../../services/shared/keys.js';
import {
  DEPLOYMENTS,
  K8S_DIR,
  K8S_OVERLAYS,
  NAMESPACE,
  OVERLAYS,
  ROOT,
  exampleSecrets,
  hasKubectl,
  imageRepo,
  imageTag,
  kustomizeBuild,
  mainContainer,
  podContainers,
  podEnv,
  type Obj,
} from './load.js';
import { K8S_VALIDATORS } from './k8s-validators.js';
import { allowed, ip, pod, selects, type Pod } from './network-policy.js';

/** Custom resources (no schema in kubernetes-models): the shape checked by hand. */
const CRDS = ['keda.sh/v1alpha1/ScaledObject', 'keda.sh/v1alpha1/TriggerAuthentication', 'monitoring.coreos.com/v1/PrometheusRule'];

const NAME = 'app.kubernetes.io/name';
const APPS = DEPLOYMENTS as readonly string[];
/** The app pods that use the store (chat never does). */
const STORE_USERS = ['users', 'ingestion', 'assistant'];

const ids = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata?.name === name);
const workloadsOf = (objs: Obj[]) => objs.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
const policiesOf = (objs: Obj[]) => objs.filter((o) => o.kind === 'NetworkPolicy');

/** The pod a workload's template makes, for the policy evaluator. */
function podOf(w: Obj): Pod {
  const namedPorts: Record<string, number> = {};
  for (const c of podContainers(w)) for (const p of c.ports ?? []) if (p.name) namedPorts[p.name] = p.containerPort;
  return pod(NAMESPACE, w.spec.template.metadata.labels, { namedPorts });
}
const appPod = (objs: Obj[], name: string) => podOf(find(objs, 'Deployment', name)!);
const dns = pod('kube-system', { 'k8s-app': 'kube-dns' });
const controller = pod('ingress-nginx', { [NAME]: 'ingress-nginx' });
const prometheus = pod('monitoring', { [NAME]: 'prometheus' });
const stranger = pod(NAMESPACE, { [NAME]: 'debug-shell' });
const otherNs = (name: string) => pod('default', { [NAME]: name });
const PUBLIC = '104.18.6.192'; // an address on the internet (a model API, S3)

/** Checks every build shares: schema, namespace, pinned images, policies that select real pods. */
function checkBuild(objs: Obj[]) {
  expect(objs.length).toBeGreaterThan(20);
  for (const o of objs) {
    const key = `${o.apiVersion}/${o.kind}`;
    if (o.kind === 'Namespace') expect(o.metadata.name).toBe(NAMESPACE);
    else expect(o.metadata.namespace, `${key} ${o.metadata.name}`).toBe(NAMESPACE);
    if (CRDS.includes(key)) {
      expect(typeof o.metadata.name).toBe('string');
      expect(typeof o.spec).toBe('object');
      continue;
    }
    const Model = K8S_VALIDATORS[key];
    expect(Model, `no validator for ${key}: add one or check it by hand`).toBeDefined();
    expect(() => new Model!(o).validate(), `${key} ${o.metadata.name}`).not.toThrow();
  }
  for (const w of workloadsOf(objs))
    for (const c of podContainers(w)) {
      const tag = imageTag(c.image);
      expect(tag, `${w.metadata.name}/${c.name}: ${c.image} must carry a version tag`).toMatch(/^\d+\.\d+(\.\d+)?([-.][\w.]+)?$/);
      expect(tag).not.toMatch(/latest/);
    }
  // every policy's podSelector names pods that exist (a typo would silently protect nothing)
  const pods = workloadsOf(objs).map(podOf);
  for (const p of policiesOf(objs)) {
    const sel = p.spec.podSelector;
    if (Object.keys(sel).length === 0) continue;
    const names = sel.matchLabels?.[NAME] ? [sel.matchLabels[NAME]] : sel.matchExpressions.find((e: Obj) => e.key === NAME).values;
    for (const n of names) expect(pods.some((x) => x.labels[NAME] === n), `NetworkPolicy ${p.metadata.name} names ${n}`).toBe(true);
  }
}

/** The network rules every build keeps, whatever Redis and MongoDB it uses. */
function checkPolicies(objs: Obj[], redis: Pod | string, mongo: Pod | string) {
  const pols = policiesOf(objs);
  const to = (x: Pod | string) => (typeof x === 'string' ? ip(x) : x);
  const deny = find(pols, 'NetworkPolicy', 'default-deny')!;
  expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  for (const name of APPS) {
    const app = appPod(objs, name);
    expect(allowed(pols, app, dns, 53, 'UDP'), `${name} -> DNS udp`).toBe(true);
    expect(allowed(pols, app, dns, 53, 'TCP'), `${name} -> DNS tcp`).toBe(true);
    expect(allowed(pols, app, to(redis), 6379), `${name} -> Redis`).toBe(true);
    expect(allowed(pols, app, to(mongo), 27017), `${name} -> MongoDB`).toBe(STORE_USERS.includes(name));
    expect(allowed(pols, app, pod('default', { [NAME]: 'anything' }), 8080), `${name} -> another namespace`).toBe(false);
    // the main port: the ingress controller (users, chat) only; the admin port (/readyz,
    // /metrics): Prometheus only — never the controller, so never the public
    const { http: port, admin } = app.namedPorts!;
    expect(port && admin, `${name}: container ports http and admin`).toBeTruthy();
    expect(allowed(pols, prometheus, app, admin!), `Prometheus -> ${name}:${admin}`).toBe(true);
    expect(allowed(pols, prometheus, app, port!), `Prometheus -> ${name}:${port} (the main port)`).toBe(false);
    expect(allowed(pols, controller, app, admin!), `ingress controller -> ${name}:${admin}`).toBe(false);
    expect(allowed(pols, pod('monitoring', { [NAME]: 'grafana' }), app, admin!), `grafana -> ${name}`).toBe(false);
    expect(allowed(pols, otherNs('prometheus'), app, admin!), `a pod named prometheus elsewhere -> ${name}`).toBe(false);
    expect(allowed(pols, controller, app, port!), `ingress controller -> ${name}`).toBe(name === 'users' || name === 'chat');
    for (const p of [port!, admin!]) expect(allowed(pols, stranger, app, p), `another pod of the namespace -> ${name}:${p}`).toBe(false);
  }
  // out of the cluster: the assistant to its model API, users to S3, nobody else; nothing private
  const outside = (name: string) => allowed(pols, appPod(objs, name), ip(PUBLIC), 443);
  expect(APPS.filter(outside).sort()).toEqual(['assistant', 'users']);
  for (const priv of ['10.96.0.10', '172.20.1.1', '192.168.1.5', '100.64.3.4', '169.254.169.254'])
    expect(allowed(pols, appPod(objs, 'assistant'), ip(priv), 443), `assistant -> ${priv}`).toBe(false);
  // in-cluster datastores: only from the app pods
  for (const [store, port] of [[redis, 6379], [mongo, 27017]] as const) {
    if (typeof store === 'string') continue;
    expect(allowed(pols, stranger, store, port), 'another pod of the namespace').toBe(false);
    for (const name of APPS) expect(allowed(pols, otherNs(name), store, port), `${name} of another namespace`).toBe(false);
    expect(allowed(pols, store, ip(PUBLIC), 443), 'the datastore itself goes nowhere').toBe(false);
    expect(allowed(pols, appPod(objs, 'users'), store, 22), 'another port').toBe(false);
  }
}

const buildTitle = (t: string) => (hasKubectl ? t : `SKIPPED: kubectl is not installed — NOT built (${t})`);
const test = hasKubectl ? it : it.skip;
const builds = new Map<string, Obj[]>();
const build = (dir: string) => {
  if (!builds.has(dir)) builds.set(dir, kustomizeBuild(dir));
  return builds.get(dir)!;
};
const base = () => build(K8S_DIR);
const overlay = (name: string) => build(join(K8S_OVERLAYS, name));
const basePods = () => ({ redis: podOf(find(base(), 'StatefulSet', 'redis')!), mongo: podOf(find(base(), 'StatefulSet', 'mongo')!) });

describe('the NetworkPolicy evaluator (test/deploy/network-policy.ts)', () => {
  const a = pod('ns', { [NAME]: 'a' });
  const b = pod('ns', { [NAME]: 'b' }, { namedPorts: { http: 80 } });
  const policy = (spec: Obj) => ({ metadata: { namespace: 'ns', name: 'p' }, spec });
  it('allows what no policy selects, denies what a policy selects and no rule allows', () => {
    expect(allowed([], a, b, 80)).toBe(true);
    const deny = policy({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(allowed([deny], a, b, 80)).toBe(false);
    const egress = policy({ podSelector: { matchLabels: { [NAME]: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { [NAME]: 'b' } } }], ports: [{ port: 'http' }] }] });
    const ingress = policy({ podSelector: { matchLabels: { [NAME]: 'b' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: NAME, operator: 'In', values: ['a'] }] } }] }] });
    expect(allowed([deny, egress], a, b, 80)).toBe(false); // b's ingress still denied
    expect(allowed([deny, egress, ingress], a, b, 80)).toBe(true);
    expect(allowed([deny, egress, ingress], a, b, 81)).toBe(false);
    expect(allowed([deny, egress, ingress], pod('other', { [NAME]: 'a' }), b, 80)).toBe(false); // podSelector alone: same namespace
  });
  it('matches ipBlocks with their exceptions', () => {
    const out = policy({ podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ protocol: 'TCP', port: 443 }] }] });
    expect(allowed([out], a, ip('1.2.3.4'), 443)).toBe(true);
    expect(allowed([out], a, ip('10.1.2.3'), 443)).toBe(false);
    expect(allowed([out], a, ip('1.2.3.4'), 443, 'UDP')).toBe(false);
  });
});

describe('kubectl kustomize: the base and every overlay', () => {
  test(buildTitle('the base and every overlay build, every object valid, one namespace, images pinned, policies on real pods'), () => {
    for (const dir of [K8S_DIR, ...OVERLAYS.map((o) => join(K8S_OVERLAYS, o))]) checkBuild(build(dir));
  });

  test(buildTitle('base: fixed replica counts (chat 2) and no autoscaler; its network rules'), () => {
    const objs = base();
    expect(objs.filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject')).toEqual([]);
    expect(find(objs, 'Deployment', 'chat')!.spec.replicas).toBe(2);
    for (const name of APPS) expect(find(objs, 'Deployment', name)!.spec.replicas, name).toBeGreaterThanOrEqual(2);
    const { redis, mongo } = basePods();
    checkPolicies(objs, redis, mongo);
    // the ingress controller reaches the public ports only
    expect(allowed(policiesOf(objs), controller, appPod(objs, 'users'), 4000)).toBe(true);
    expect(allowed(policiesOf(objs), controller, appPod(objs, 'chat'), 8080)).toBe(true);
    expect(allowed(policiesOf(objs), otherNs('x'), appPod(objs, 'users'), 4000)).toBe(false);
    expect(allowed(policiesOf(objs), pod('keda', { [NAME]: 'keda-operator' }), redis, 6379), 'no KEDA in the base').toBe(false);
  });

  test(buildTitle('Redis and MongoDB accept connections only from app-labelled pods of the namespace (rule by rule)'), () => {
    for (const dir of [K8S_DIR, ...OVERLAYS.map((o) => join(K8S_OVERLAYS, o))]) {
      const objs = build(dir);
      const stores = workloadsOf(objs).filter((w) => ['redis', 'mongo', 'redis-cluster'].includes(w.spec.template.metadata.labels[NAME]));
      for (const store of stores) {
        const labels = store.spec.template.metadata.labels;
        // the policies that open this pod to something (default-deny, selecting all, opens nothing)
        const rules = policiesOf(objs)
          .filter((p) => Object.keys(p.spec.podSelector).length > 0 && selects(p.spec.podSelector, labels))
          .filter((p) => p.spec.policyTypes.includes('Ingress'))
          .flatMap((p) => (p.spec.ingress ?? []).map((r: Obj) => ({ policy: p.metadata.name, r })));
        expect(rules.length, `${dir}: ${store.metadata.name} has ingress rules`).toBeGreaterThan(0);
        for (const { policy, r } of rules) {
          expect(r.from?.length, `${policy}: a rule without \`from\` admits everyone`).toBeGreaterThan(0);
          for (const peer of r.from) {
            const where = `${dir}: ${policy} -> ${store.metadata.name}`;
            expect(peer.ipBlock, where).toBeUndefined();
            if (peer.namespaceSelector) {
              // the one exception: the KEDA operator's namespace (k8s/components/keda)
              expect(policy, where).toBe('redis-from-keda');
              expect(peer.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'keda' } });
              continue;
            }
            const names: string[] = peer.podSelector.matchLabels?.[NAME] ? [peer.podSelector.matchLabels[NAME]] : peer.podSelector.matchExpressions[0].values;
            const peers = { 'redis-cluster': [...APPS, 'redis-cluster', 'redis-cluster-init'], redis: APPS, mongo: STORE_USERS }[labels[NAME] as 'redis']!;
            for (const n of names) expect(peers, `${where}: from ${n}`).toContain(n);
          }
        }
      }
    }
  });

  test(buildTitle('autoscale: an HPA owns chat and KEDA owns ingestion — neither Deployment has replicas; the rest is the base'), () => {
    const objs = overlay('autoscale');
    const added = ['HorizontalPodAutoscaler/chat', 'NetworkPolicy/redis-from-keda', 'ScaledObject/ingestion', 'TriggerAuthentication/aurorachat-redis'];
    expect(ids(objs)).toEqual([...ids(base()), ...added].sort());
    expect(find(objs, 'Deployment', 'chat')!.spec.replicas).toBeUndefined();
    expect(find(objs, 'Deployment', 'ingestion')!.spec.replicas).toBeUndefined();
    for (const name of ['users', 'assistant']) expect(find(objs, 'Deployment', name)!.spec.replicas).toBe(2);
    const hpa = find(objs, 'HorizontalPodAutoscaler', 'chat')!;
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'chat' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const so = find(objs, 'ScaledObject', 'ingestion')!;
    expect(so.spec.scaleTargetRef.name).toBe('ingestion');
    for (const t of so.spec.triggers) expect(find(objs, 'TriggerAuthentication', t.authenticationRef.name)).toBeDefined();
    const { redis, mongo } = basePods();
    checkPolicies(objs, redis, mongo);
    // KEDA polls Redis from its own namespace, and reaches nothing else
    const keda = pod('keda', { [NAME]: 'keda-operator' });
    expect(allowed(policiesOf(objs), keda, redis, 6379)).toBe(true);
    expect(allowed(policiesOf(objs), keda, mongo, 27017)).toBe(false);
  });

  test(buildTitle('keda: KEDA owns ingestion, chat keeps its replica count (no HPA)'), () => {
    const objs = overlay('keda');
    expect(ids(objs)).toEqual([...ids(base()), 'NetworkPolicy/redis-from-keda', 'ScaledObject/ingestion', 'TriggerAuthentication/aurorachat-redis'].sort());
    expect(find(objs, 'Deployment', 'chat')!.spec.replicas).toBe(2);
    expect(find(objs, 'Deployment', 'ingestion')!.spec.replicas).toBeUndefined();
    const { redis, mongo } = basePods();
    checkPolicies(objs, redis, mongo);
  });

  const secretWith = (key: string, url: string) => ({ ...exampleSecrets().app.stringData, JWT_SECRET: 'z'.repeat(48), [key]: url });

  test(buildTitle('external-redis: no Redis in the cluster, nothing points at it; REDIS_URL (rediss://) from the Secret; egress to a Redis anywhere'), () => {
    const objs = overlay('external-redis');
    const removed = ['StatefulSet/redis', 'Service/redis', 'NetworkPolicy/redis-from-apps', 'NetworkPolicy/apps-to-redis'];
    expect(ids(objs)).toEqual([...ids(base()).filter((id) => !removed.includes(id)), 'NetworkPolicy/apps-to-external-redis'].sort());
    expect(JSON.stringify(objs)).not.toMatch(/redis(\.aurorachat[.\w]*)?:6379/);
    const cm = find(objs, 'ConfigMap', 'aurorachat-config')!.data;
    expect(new URL(cm.REDIS_URL).hostname).toMatch(/\.invalid$/); // fails loudly until the Secret sets it
    const external = 'rediss://aurora:s3cr3tvalue@redis.example.net:6380';
    for (const svc of DEPLOYMENTS) {
      const c = mainContainer(find(objs, 'Deployment', svc)!);
      const objects = objs.map((obj) => ({ file: 'overlay', obj }));
      expect(loadConfig(svc, podEnv(objects, c, secretWith('REDIS_URL', external), 'p')).REDIS_URL).toBe(external);
    }
    const { mongo } = basePods();
    checkPolicies(objs, '10.20.30.40', mongo); // ElastiCache in the VPC
    for (const name of APPS) expect(allowed(policiesOf(objs), appPod(objs, name), ip('203.0.113.7'), 6380), name).toBe(true);
  });

  test(buildTitle('external-mongo: no MongoDB in the cluster, nothing points at it; MONGO_URL from the Secret; egress to a MongoDB anywhere'), () => {
    const objs = overlay('external-mongo');
    const removed = ['StatefulSet/mongo', 'Service/mongo', 'ConfigMap/mongo-init', 'NetworkPolicy/mongo-from-apps', 'NetworkPolicy/apps-to-mongo'];
    expect(ids(objs)).toEqual([...ids(base()).filter((id) => !removed.includes(id)), 'NetworkPolicy/apps-to-external-mongo'].sort());
    expect(JSON.stringify(objs)).not.toMatch(/mongo(\.aurorachat[.\w]*)?:27017/);
    expect(new URL(find(objs, 'ConfigMap', 'aurorachat-config')!.data.MONGO_URL).hostname).toMatch(/\.invalid$/);
    const atlas = 'mongodb+srv://aurora:s3cr3tvalue@cluster0.example.net/aurorachat';
    for (const svc of DEPLOYMENTS) {
      const c = mainContainer(find(objs, 'Deployment', svc)!);
      const config = loadConfig(svc, podEnv(objs.map((obj) => ({ file: 'overlay', obj })), c, secretWith('MONGO_URL', atlas), 'p'));
      expect(config.store).toBe('mongo');
      expect(config.MONGO_URL).toBe(atlas);
    }
    const { redis } = basePods();
    checkPolicies(objs, redis, '52.1.2.3');
  });

  test(buildTitle('redis-cluster: the app pods, the Job and the nodes reach the cluster; nobody else (objects: redis-cluster-k8s.test.ts)'), () => {
    const objs = overlay('redis-cluster');
    const node = podOf(find(objs, 'StatefulSet', 'redis-cluster')!);
    const init = podOf(find(objs, 'Job', 'redis-cluster-init')!);
    checkPolicies(objs, node, basePods().mongo);
    const pols = policiesOf(objs);
    expect(allowed(pols, node, node, 16379), 'cluster bus').toBe(true);
    expect(allowed(pols, node, node, 6379), 'replication').toBe(true);
    expect(allowed(pols, init, node, 6379), 'the Job').toBe(true);
    expect(allowed(pols, appPod(objs, 'chat'), node, 16379), 'apps stay off the bus').toBe(false);
    expect(allowed(pols, init, ip(PUBLIC), 443)).toBe(false);
    expect(allowed(pols, node, dns, 53, 'UDP'), 'the nodes resolve each other').toBe(true);
  });

  describe('components combined as README describes: base + keda + autoscale + redis-cluster', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aurora-k8s-combo-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    test(buildTitle('builds, and the KEDA triggers follow the cluster\'s partitions with the ACL user'), () => {
      // kustomize takes relative paths only: the repo's k8s/ linked beside the kustomization
      symlinkSync(join(ROOT, 'k8s'), join(dir, 'k8s'));
      mkdirSync(join(dir, 'combo'));
      writeFileSync(
        join(dir, 'combo', 'Kustomization'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          `namespace: ${NAMESPACE}`,
          'resources: [../k8s/base]',
          'components: [../k8s/components/keda, ../k8s/components/autoscale, ../k8s/components/redis-cluster]',
          '',
        ].join('\n'),
      );
      const objs = kustomizeBuild(join(dir, 'combo'));
      checkBuild(objs);
      const cm = find(objs, 'ConfigMap', 'aurorachat-config')!.data;
      const so = find(objs, 'ScaledObject', 'ingestion')!;
      expect(so.spec.triggers.map((t: Obj) => t.metadata.stream)).toEqual(keysFor(Number(cm.PARTITIONS)).allIngestStreams());
      for (const t of so.spec.triggers) {
        expect(t.type).toBe('redis-cluster-streams');
        expect(t.authenticationRef).toEqual({ name: 'aurorachat-redis' });
      }
      expect(find(objs, 'HorizontalPodAutoscaler', 'chat')).toBeDefined();
      const node = podOf(find(objs, 'StatefulSet', 'redis-cluster')!);
      expect(allowed(policiesOf(objs), pod('keda', { [NAME]: 'keda-operator' }), node, 6379), 'KEDA -> the cluster').toBe(true);
      checkPolicies(objs, node, basePods().mongo);
    });
  });

  test(buildTitle('every image is pinned to the same version in every overlay as in the base'), () => {
    const versions = (objs: Obj[]) => new Map(workloadsOf(objs).flatMap((w) => podContainers(w).map((c) => [imageRepo(c.image), imageTag(c.image)])));
    const pinned = versions(base());
    for (const name of OVERLAYS) for (const [repo, tag] of versions(overlay(name))) if (pinned.has(repo)) expect(tag, `${name}: ${repo}`).toBe(pinned.get(repo));
  });
});
