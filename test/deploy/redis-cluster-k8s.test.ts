// The Redis Cluster overlay (k8s/overlays/redis-cluster = k8s/base + k8s/components/redis-cluster):
// `kubectl kustomize` of it checked without a cluster — the base's single Redis gone, a 6-node
// cluster, its Job, PDB, NetworkPolicies and ConfigMap values consistent with each other and with
// the config schema, every object against the Kubernetes schema — and the shell scripts its pods
// run (form the cluster, hand a master over before a stop, re-join nodes that all came back at
// new addresses) run for real on local redis-servers that require the manifest's ACL user.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../services/shared/config.js';
import { keysFor } from '../../services/shared/keys.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { DEPLOYMENTS, K8S_COMPONENTS, K8S_DIR, K8S_OVERLAYS, NAMESPACE, mainContainer, parseYamlFile, podContainers, podEnv, type Obj } from './load.js';
import { K8S_VALIDATORS } from './k8s-validators.js';

const OVERLAY = join(K8S_OVERLAYS, 'redis-cluster');
const COMPONENT = join(K8S_COMPONENTS, 'redis-cluster');
const SCRIPTS = join(COMPONENT, 'scripts');
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const shellcheck = spawnSync('shellcheck', ['--version']).status === 0;


function kustomize(dir: string): Obj[] {
  const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (out.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${out.stderr}`);
  return parseAllDocuments(out.stdout).map((d) => d.toJS() as Obj);
}

const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata?.name === name);
const selects = (svc: Obj, w: Obj) => Object.entries(svc.spec.selector ?? {}).every(([k, v]) => w.spec.template.metadata.labels[k] === v);
/** The value after `flag` in an argument list. */
const argOf = (args: string[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const bytes = (v: string) => {
  const m = /^(\d+)(mb|gb|Mi|Gi)$/.exec(v)!;
  return Number(m[1]) * { mb: 2 ** 20, Mi: 2 ** 20, gb: 2 ** 30, Gi: 2 ** 30 }[m[2] as 'mb'];
};

describe('kubectl kustomize k8s/overlays/redis-cluster', () => {
  const skip = !kubectl;
  const title = (t: string) => (skip ? `SKIPPED: kubectl is not installed — the overlay was NOT built (${t})` : t);
  let out: Obj[] = [];
  let base: Obj[] = [];
  let sts: Obj;
  let cm: Record<string, string>;
  beforeAll(() => {
    if (skip) return;
    out = kustomize(OVERLAY);
    base = kustomize(K8S_DIR);
    sts = find(out, 'StatefulSet', 'redis-cluster')!;
    cm = find(out, 'ConfigMap', 'aurorachat-config')!.data;
  });
  const test = skip ? it.skip : it;

  test(title('every object passes the Kubernetes schema for its kind, all in the aurorachat namespace'), () => {
    expect(out.length).toBeGreaterThan(15);
    for (const o of out) {
      const key = `${o.apiVersion}/${o.kind}`;
      if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${key} ${o.metadata.name}`).toBe(NAMESPACE);
      if (key === 'monitoring.coreos.com/v1/PrometheusRule') continue; // a CRD: k8s.test.ts checks it by hand
      const Model = K8S_VALIDATORS[key];
      expect(Model, `no validator for ${key} — add one or check it by hand`).toBeDefined();
      expect(() => new Model!(o).validate(), `${key} ${o.metadata.name}`).not.toThrow();
    }
  });

  test(title('is the base minus its single Redis plus the cluster: nothing else added or lost'), () => {
    const ids = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    const single = ['StatefulSet/redis', 'Service/redis', 'NetworkPolicy/redis-from-apps', 'NetworkPolicy/apps-to-redis'];
    const expected = ids(base)
      .filter((id) => !single.includes(id))
      .concat(['ConfigMap/redis-cluster-scripts', 'Service/redis-cluster', 'Service/redis-cluster-headless', 'StatefulSet/redis-cluster', 'Job/redis-cluster-init', 'PodDisruptionBudget/redis-cluster'])
      .concat(['NetworkPolicy/redis-cluster', 'NetworkPolicy/apps-to-redis-cluster'])
      .sort();
    expect(ids(out)).toEqual(expected);
    // and nothing still points at the single Redis' host (the base does: REDIS_URL, KEDA)
    const singleRedis = /[/"]redis(\.aurorachat[.\w]*)?:6379/;
    expect(JSON.stringify(base)).toMatch(singleRedis);
    expect(JSON.stringify(out)).not.toMatch(singleRedis);
  });

  test(title('leaves the base build as it is: its single Redis, no cluster'), () => {
    expect(find(base, 'StatefulSet', 'redis')!.spec.replicas).toBe(1);
    expect(find(base, 'Service', 'redis')).toBeDefined();
    expect(base.filter((o) => /redis-cluster/.test(o.metadata.name))).toEqual([]);
    const data = find(base, 'ConfigMap', 'aurorachat-config')!.data;
    expect(data.REDIS_CLUSTER_NODES).toBe('');
    expect(data.REDIS_URL).toBe('redis://redis:6379');
  });

  test(title('a 6-pod StatefulSet runs redis 7 in cluster mode, AOF on a volume per pod, announcing its pod IP'), () => {
    expect(sts.spec.replicas).toBe(6);
    const c = podContainers(sts).find((x) => x.name === 'redis')!;
    expect(c.image).toMatch(/^redis:7\.\d+(\.\d+)?$/);
    const args: string[] = c.args;
    // the ACL user of the Secret aurorachat-datastores, also for replication; `default` off
    expect(args.slice(1, args.indexOf('--cluster-enabled'))).toEqual([
      '--user', 'default', 'off', '--user', '$(REDIS_USERNAME)', 'on', '>$(REDIS_PASSWORD)', '~*', '&*', '+@all',
      '--masteruser', '$(REDIS_USERNAME)', '--masterauth', '$(REDIS_PASSWORD)',
    ]);
    for (const x of [...podContainers(sts), mainContainer(find(out, 'Job', 'redis-cluster-init')!)]) {
      const env = Object.fromEntries(x.env.map((e: Obj) => [e.name, e.valueFrom?.secretKeyRef]));
      expect(env.REDIS_USERNAME, x.name).toEqual({ name: 'aurorachat-datastores', key: 'REDIS_USERNAME' });
      expect(env.REDISCLI_AUTH, x.name).toEqual({ name: 'aurorachat-datastores', key: 'REDIS_PASSWORD' });
    }
    const want: Record<string, string> = {
      '--cluster-enabled': 'yes', '--cluster-node-timeout': '5000', '--appendonly': 'yes',
      '--appendfsync': 'everysec', '--maxmemory-policy': 'noeviction', '--cluster-announce-ip': '$(POD_IP)',
    };
    for (const [flag, value] of Object.entries(want)) expect(argOf(args, flag), flag).toBe(value);
    expect(c.env).toContainEqual({ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
    // nodes.conf (node ID, role, epoch) and the AOF on the pod's own claim
    const claim = sts.spec.volumeClaimTemplates[0].metadata.name;
    const dataDir = c.volumeMounts.find((m: Obj) => m.name === claim).mountPath;
    expect(argOf(args, '--dir')).toBe(dataDir);
    expect(argOf(args, '--cluster-config-file')).toBe(`${dataDir}/nodes.conf`);
    expect(bytes(argOf(args, '--maxmemory')!)).toBeLessThanOrEqual(bytes(c.resources.limits.memory) * 0.8);
    expect(c.readinessProbe.exec.command.join(' ')).toMatch(/redis-cli --user "\$REDIS_USERNAME" ping\)" = PONG/);
    expect(c.livenessProbe).toBeDefined();
    for (const x of podContainers(sts))
      for (const kind of ['requests', 'limits']) for (const r of ['cpu', 'memory']) expect(x.resources?.[kind]?.[r], `${x.name} ${kind}.${r}`).toBeDefined();
    const anti = sts.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    expect(anti.topologyKey).toBe('kubernetes.io/hostname');
    expect(Object.entries(anti.labelSelector.matchLabels).every(([k, v]) => sts.spec.template.metadata.labels[k] === v)).toBe(true);
  });

  test(title('a headless Service gives each pod a name (also before it is ready); a client Service and a PDB select the pods'), () => {
    const headless = find(out, 'Service', sts.spec.serviceName)!;
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(selects(headless, sts)).toBe(true);
    expect(selects(find(out, 'Service', 'redis-cluster')!, sts)).toBe(true);
    const pdb = find(out, 'PodDisruptionBudget', 'redis-cluster')!;
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
  });

  test(title('REDIS_CLUSTER_NODES names the 6 pods by their stable DNS names; acks wait for a replica; PARTITIONS >= 4 x masters'), () => {
    const headless = sts.spec.serviceName;
    const port = mainContainer(sts).ports.find((p: Obj) => p.name === 'redis').containerPort;
    const nodes = cm.REDIS_CLUSTER_NODES!.split(',');
    expect(nodes).toEqual([0, 1, 2, 3, 4, 5].map((i) => `${sts.metadata.name}-${i}.${headless}.${NAMESPACE}.svc.cluster.local:${port}`));
    expect(cm.REDIS_ACK_REPLICAS).toBe('1');
    const job = find(out, 'Job', 'redis-cluster-init')!;
    const replicasPerMaster = Number(mainContainer(job).env.find((e: Obj) => e.name === 'CLUSTER_REPLICAS').value);
    const masters = sts.spec.replicas / (1 + replicasPerMaster);
    expect(masters).toBe(3);
    expect(Number(cm.PARTITIONS)).toBeGreaterThanOrEqual(4 * masters);
    // REDIS_URL still names a Service of the cluster (its credentials and TLS are what count)
    const url = new URL(cm.REDIS_URL!);
    expect(selects(find(out, 'Service', url.hostname)!, sts)).toBe(true);
    for (const key of Object.keys(cm)) expect(CONFIG_VARIABLES as readonly string[], `ConfigMap key ${key}`).toContain(key);
  });

  test(title('every app pod loads a cluster configuration: 6 seeds, a replica ack, the partitions, the ACL user'), () => {
    const objs = out.map((obj) => ({ file: 'overlay', obj }));
    const secret = { JWT_SECRET: 'x'.repeat(48), REDIS_URL: 'redis://aurora:0123abcd@redis-cluster:6379' };
    for (const svc of DEPLOYMENTS) {
      const env = podEnv(objs, mainContainer(find(out, 'Deployment', svc)!), secret, `${svc}-0`);
      const config = loadConfig(svc, env);
      expect(config.REDIS_URL, svc).toBe(secret.REDIS_URL);
      expect(config.REDIS_CLUSTER_NODES, svc).toHaveLength(6);
      expect(config.REDIS_ACK_REPLICAS, svc).toBe(1);
      expect(config.PARTITIONS, svc).toBe(Number(cm.PARTITIONS));
    }
  });

  test(title('the Job forms the cluster from REDIS_CLUSTER_NODES with the script the overlay ships'), () => {
    const job = find(out, 'Job', 'redis-cluster-init')!;
    const c = mainContainer(job);
    expect(['OnFailure', 'Never']).toContain(job.spec.template.spec.restartPolicy);
    expect(c.image).toBe(mainContainer(sts).image);
    expect(c.env).toContainEqual({ name: 'REDIS_CLUSTER_NODES', valueFrom: { configMapKeyRef: { name: 'aurorachat-config', key: 'REDIS_CLUSTER_NODES' } } });
    // every script a pod runs is in the ConfigMap mounted there, byte for byte the file tested below
    const scripts = find(out, 'ConfigMap', 'redis-cluster-scripts')!.data as Record<string, string>;
    for (const file of Object.keys(scripts)) expect(scripts[file], file).toBe(readFileSync(join(SCRIPTS, file), 'utf8'));
    // each container that runs one mounts the ConfigMap at /scripts
    const run: string[] = [];
    for (const w of [job, sts]) {
      const vol = w.spec.template.spec.volumes.find((v: Obj) => v.configMap?.name === 'redis-cluster-scripts');
      for (const x of podContainers(w)) {
        const paths = [...(x.command ?? []), ...(x.lifecycle?.preStop?.exec?.command ?? [])].filter((a: string) => a.startsWith('/scripts/'));
        if (paths.length) expect(x.volumeMounts, x.name).toContainEqual({ name: vol.name, mountPath: '/scripts' });
        run.push(...paths);
      }
    }
    expect(run.sort()).toEqual(['/scripts/cluster-init.sh', '/scripts/cluster-meet.sh', '/scripts/cluster-prestop.sh']);
    for (const path of run) expect(scripts).toHaveProperty(path.slice('/scripts/'.length));
  });

  test(title('KEDA (k8s/components/keda listed first) scales ingestion on every partition stream of the cluster'), () => {
    expect(find(out, 'ScaledObject', 'ingestion'), 'no KEDA in this overlay: its patch matches nothing').toBeUndefined();
    const triggers = parseYamlFile(join(COMPONENT, 'keda-triggers.yaml'))[0] as Obj[];
    const so = { spec: { triggers: triggers[0]!.value } };
    expect(triggers[0]).toMatchObject({ op: 'replace', path: '/spec/triggers' });
    const streams = so.spec.triggers.map((t: Obj) => {
      expect(t.type).toBe('redis-cluster-streams');
      expect(t.metadata.consumerGroup).toBe('ingestion');
      const [host] = t.metadata.addresses.split(':');
      expect(selects(find(out, 'Service', host.split('.')[0])!, sts)).toBe(true);
      expect(t.authenticationRef).toEqual({ name: 'aurorachat-redis' });
      return t.metadata.stream;
    });
    expect(streams).toEqual(keysFor(Number(cm.PARTITIONS)).allIngestStreams());
  });
});

// ------------------------------------------------------------ the scripts, on real redis-servers

interface Node {
  port: number;
  bus: number;
  dir: string;
  proc: ChildProcess;
}

// The nodes run with the manifest's own ACL flags (the StatefulSet's args from `--user` to
// `--cluster-enabled`, $(VAR)s filled in as the kubelet does): the scripts must work as that user.
const ACL_USER = 'aurora';
const ACL_PASSWORD = 'a-test-password-0123';
const AUTH = { REDIS_USERNAME: ACL_USER, REDISCLI_AUTH: ACL_PASSWORD };
const aclArgs: string[] = (() => {
  const sts = (parseYamlFile(join(COMPONENT, 'redis-cluster.yaml')) as Obj[]).find((o) => o.kind === 'StatefulSet')!;
  const args: string[] = podContainers(sts).find((c) => c.name === 'redis')!.args;
  return args
    .slice(1, args.indexOf('--cluster-enabled'))
    .map((a) => a.replace('$(REDIS_USERNAME)', ACL_USER).replace('$(REDIS_PASSWORD)', ACL_PASSWORD));
})();

const cli = (port: number, ...args: string[]) =>
  spawnSync('redis-cli', ['--user', ACL_USER, '-p', String(port), ...args], {
    encoding: 'utf8',
    timeout: 5000,
    env: { ...process.env, REDISCLI_AUTH: ACL_PASSWORD },
  }).stdout.trim();
const info = (port: number, field: string) => new RegExp(`^${field}:(.*)$`, 'm').exec(cli(port, 'cluster', 'info'))?.[1]?.trim();
const role = (port: number) => cli(port, 'role').split('\n')[0];
/** A key in the first slot range the master on `port` serves (CLUSTER NODES: `… myself,master … a-b`). */
function keyOn(port: number): string {
  const mine = cli(port, 'cluster', 'nodes').split('\n').find((l) => l.includes('myself'))!;
  const [from, to = from] = mine.split(' ')[8]!.split('-').map(Number);
  for (let i = 0; ; i++) {
    const slot = Number(cli(port, 'cluster', 'keyslot', `k{${i}}`));
    if (slot >= from! && slot <= to!) return `k{${i}}`;
  }
}
function script(name: string, env: Record<string, string>) {
  const r = spawnSync('sh', [join(SCRIPTS, name)], { env: { ...process.env, ...AUTH, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('the overlay scripts on real redis-servers', () => {
  const root = mkdtempSync(join(tmpdir(), 'aurora-k8s-cluster-'));
  const taken = new Set<number>();
  const nodes: Node[] = [];
  const port = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) return taken.add(p), p;
    }
  };
  /** A cluster-enabled redis-server in `dir` (its nodes.conf and AOF survive a restart there). */
  async function start(dir: string): Promise<Node> {
    const [p, bus] = [await port(), await port()];
    const proc = spawn('redis-server', [
      '--port', String(p), '--cluster-port', String(bus), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000', '--appendonly', 'yes',
      '--repl-diskless-sync-delay', '0', '--save', '', '--dir', dir, '--logfile', join(dir, 'log'), ...aclArgs,
    ], { stdio: 'ignore' });
    const node = { port: p, bus, dir, proc };
    nodes.push(node);
    await waitFor(() => cli(p, 'ping') === 'PONG', { timeoutMs: 10_000, what: `redis-server on ${p}` });
    return node;
  }
  const stop = (n: Node, signal: NodeJS.Signals = 'SIGTERM') =>
    new Promise<void>((resolve) => {
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) return resolve();
      n.proc.once('exit', () => resolve());
      n.proc.kill(signal);
    });
  const seeds = (ns: Node[]) => ns.map((n) => `127.0.0.1:${n.port}`).join(',');
  const healthy = (ns: Node[]) => ns.every((n) => info(n.port, 'cluster_state') === 'ok' && info(n.port, 'cluster_slots_ok') === '16384');
  let cluster: Node[] = [];

  // a crashed run must not leave redis-servers behind: killed by PID on exit
  const onExit = () => nodes.forEach((n) => n.proc.exitCode === null && n.proc.kill('SIGKILL'));
  beforeAll(async () => {
    process.once('exit', onExit);
    for (let i = 0; i < 6; i++) cluster.push(await start(mkdtempSync(join(root, 'n'))));
  }, 30_000);
  afterAll(async () => {
    process.removeListener('exit', onExit);
    await Promise.all(nodes.map((n) => stop(n, 'SIGKILL')));
    rmSync(root, { recursive: true, force: true });
  });

  it(shellcheck ? 'the scripts are POSIX sh and shellcheck-clean' : 'the scripts are POSIX sh (SKIPPED part: shellcheck is not installed, NOT linted)', () => {
    const files = ['common.sh', 'cluster-init.sh', 'cluster-meet.sh', 'cluster-prestop.sh'].map((f) => join(SCRIPTS, f));
    for (const f of files) expect(spawnSync('sh', ['-n', f]).status, f).toBe(0);
    if (!shellcheck) return;
    const r = spawnSync('shellcheck', ['--shell=sh', '--severity=style', '-e', 'SC1091', ...files], { encoding: 'utf8' });
    expect(r.stdout).toBe('');
  });

  it('cluster-init forms 3 masters + 3 replicas from REDIS_CLUSTER_NODES, and run again changes nothing', async () => {
    // the nodes admit nobody without the ACL user: the scripts below get in only as it
    const anonymous = spawnSync('redis-cli', ['-p', String(cluster[0]!.port), 'cluster', 'info'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(anonymous.stdout).toMatch(/NOAUTH/);
    const first = script('cluster-init.sh', { REDIS_CLUSTER_NODES: seeds(cluster), WAIT_SECONDS: '30' });
    expect(first.status, first.out).toBe(0);
    // the script returns at cluster_state:ok; on a loaded machine a replica may take a moment more
    // to report its role (and every node all slots): bounded waits, not a snapshot
    await waitFor(() => healthy(cluster), { timeoutMs: 15_000, what: 'every node ok with all slots' });
    const roles = () => cluster.map((n) => role(n.port)).sort().join(',');
    await waitFor(() => roles() === 'master,master,master,slave,slave,slave', { timeoutMs: 15_000, what: `3 masters + 3 replicas (now ${roles()})` });
    // node 0's own table learns the others' roles by gossip, after each node reports its own role:
    // the layout is read once node 0 also sees 3 replicas (a snapshot before that flaked on Node 22)
    const view = () => cli(cluster[0]!.port, 'cluster', 'nodes').split('\n').map((l) => l.split(' ').slice(0, 4).join(' ')).sort();
    await waitFor(() => view().filter((l) => /[ ,]slave /.test(l)).length === 3, { timeoutMs: 15_000, what: `node 0 sees 3 replicas (now ${view().join('; ')})` });
    const layout = view();
    const again = script('cluster-init.sh', { REDIS_CLUSTER_NODES: seeds(cluster), WAIT_SECONDS: '30' });
    expect(again.status, again.out).toBe(0);
    expect(again.out).toMatch(/already formed/);
    expect(cli(cluster[0]!.port, 'cluster', 'nodes').split('\n').map((l) => l.split(' ').slice(0, 4).join(' ')).sort()).toEqual(layout);
  }, 60_000);

  it('cluster-init refuses a mix of formed and fresh nodes (a wiped volume), touching nothing', async () => {
    const fresh = await start(mkdtempSync(join(root, 'fresh')));
    const r = script('cluster-init.sh', { REDIS_CLUSTER_NODES: seeds([...cluster, fresh]), WAIT_SECONDS: '10' });
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/6 nodes are in a cluster and 1 are not/);
    expect(info(fresh.port, 'cluster_known_nodes')).toBe('1');
    await stop(fresh);
  }, 30_000);

  it('cluster-prestop hands a master over to its in-sync replica; on a replica it does nothing', async () => {
    const master = cluster.find((n) => role(n.port) === 'master')!;
    await waitFor(() => /state=online/.test(cli(master.port, 'info', 'replication')), { timeoutMs: 10_000, what: 'a replica online' });
    // a write the master took (no -c: a key of another master would answer MOVED), just before
    const key = keyOn(master.port);
    expect(cli(master.port, 'set', key, 'acked')).toBe('OK');
    const r = script('cluster-prestop.sh', { REDIS_PORT: String(master.port), FAILOVER_WAIT_SECONDS: '20' });
    expect(r.status, r.out).toBe(0);
    expect(role(master.port)).toBe('slave');
    const promoted = Number(/handing over to 127\.0\.0\.1:(\d+)/.exec(r.out)![1]);
    expect(role(promoted)).toBe('master');
    expect(cli(promoted, 'get', key)).toBe('acked');
    const replica = script('cluster-prestop.sh', { REDIS_PORT: String(master.port) });
    expect(replica).toEqual({ status: 0, out: '' });
    await waitFor(() => healthy(cluster), { timeoutMs: 15_000, what: 'cluster_state:ok after the handover' });
  }, 60_000);

  it('cluster-meet re-joins a cluster whose nodes ALL restarted at new addresses; a fresh node is left out', async () => {
    // a value on every master, to read back after the restart
    const keys = cluster.filter((n) => role(n.port) === 'master').map((n) => keyOn(n.port));
    for (const k of keys) expect(cli(cluster[0]!.port, '-c', 'set', k, k)).toBe('OK');
    await Promise.all(cluster.map((n) => stop(n)));
    const restarted: Node[] = [];
    for (const n of cluster) restarted.push(await start(n.dir));
    cluster = restarted;
    // each nodes.conf names only the old, dead addresses: nothing to reach
    const view = cli(cluster[0]!.port, 'cluster', 'nodes');
    for (const n of cluster.slice(1)) expect(view).not.toContain(`127.0.0.1:${n.port}@`);
    const fresh = await start(mkdtempSync(join(root, 'fresh')));
    for (const n of cluster) {
      const r = script('cluster-meet.sh', { REDIS_CLUSTER_NODES: seeds([...cluster, fresh]), REDIS_PORT: String(n.port), ONCE: '1' });
      expect(r.status, r.out).toBe(0);
    }
    await waitFor(() => healthy(cluster), { timeoutMs: 30_000, what: 'cluster_state:ok on every restarted node' });
    expect(info(fresh.port, 'cluster_known_nodes')).toBe('1');
    for (const n of cluster) expect(cli(n.port, 'cluster', 'nodes')).not.toContain(`:${fresh.port}@`);
    for (const k of keys) expect(cli(cluster[0]!.port, '-c', 'get', k)).toBe(k);
  }, 90_000);
});
