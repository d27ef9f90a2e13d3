// The production artefact, proven without Docker: the build the Dockerfile runs (tsc via
// tsconfig.build.json + scripts/copy-assets.mjs) is laid out as the runtime image is —
// package.json, node_modules, dist/, frontend/ and nothing else (no TypeScript sources, no
// tsx) — and each compiled service, started as the image's CMD starts it with NODE_ENV=production
// and the environment of k8s/ or docker-compose.yml, answers the probe paths the manifests use
// and exits 0 on SIGTERM. Then deploy/nginx.conf itself (when nginx is installed) balances two
// compiled chat replicas: REST and WebSocket through one origin, connections spread, no stickiness.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freePorts, waitFor } from '../helpers/ports.js';
import { keysFor } from '../../services/shared/keys.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { DEPLOYMENTS, ROOT, composeFile, find, interpolate, k8sObjects, mainContainer, repoFiles, rel, type AppDeployment, type Obj } from './load.js';

/** Every process k8s/ runs (the services and the assistant), by its entry point services/<name>/main.ts. */
const present = DEPLOYMENTS.filter((s) => existsSync(join(ROOT, 'services', s, 'main.ts')));
const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const jwtSecret = randomBytes(32).toString('hex');

let imageRoot = '';
let redis: TestRedis;
let buildOutput = '';
let buildOk = false;
const running: ChildProcess[] = [];

interface Proc {
  proc: ChildProcess;
  logs: string[];
  port: number;
  base: string;
  /** ADMIN_PORT: /readyz and /metrics. */
  adminBase: string;
  exited: Promise<number | null>;
}

/**
 * `node dist/services/<svc>/main.js` from the image root, exactly the Dockerfile's CMD (or `args`,
 * a Deployment's command), on free ports (PORT and ADMIN_PORT) of this machine.
 */
async function startCompiled(svc: AppDeployment, env: Record<string, string>, args = [`dist/services/${svc}/main.js`]): Promise<Proc> {
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const logs: string[] = [];
  const proc = spawn(process.execPath, args, {
    cwd: imageRoot,
    env: { PATH: process.env.PATH ?? '', HOME: imageRoot, ...env, PORT: String(port), ADMIN_PORT: String(adminPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(proc);
  const collect = (b: Buffer) => logs.push(...b.toString('utf8').split('\n').filter(Boolean));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, logs, port, base: `http://127.0.0.1:${port}`, adminBase: `http://127.0.0.1:${adminPort}`, exited };
}

async function waitHttp(p: Proc, path: string, status = 200, base = p.base, timeoutMs = 30_000): Promise<Response> {
  return waitFor(
    async () => {
      if (p.proc.exitCode !== null) throw new Error(`exited ${p.proc.exitCode}:\n${p.logs.slice(-30).join('\n')}`);
      const res = await fetch(base + path);
      return res.status === status ? res : null;
    },
    { timeoutMs, what: `${path} -> ${status}` },
  ).catch((err) => {
    throw new Error(`${String(err)}\n--- logs ---\n${p.logs.slice(-30).join('\n')}`);
  });
}

beforeAll(async () => {
  redis = await startRedis();
  if (present.length === 0) return;
  // The runtime image's /app: package.json (ESM "type"), node_modules, dist, frontend.
  imageRoot = mkdtempSync(join(tmpdir(), 'aurora-image-'));
  cpSync(join(ROOT, 'package.json'), join(imageRoot, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(imageRoot, 'node_modules'), 'dir');
  if (existsSync(join(ROOT, 'frontend'))) symlinkSync(join(ROOT, 'frontend'), join(imageRoot, 'frontend'), 'dir');
  // `npm run build` = tsc -p tsconfig.build.json && node scripts/copy-assets.mjs, with the output
  // redirected into the image root (copy-assets writes ./dist relative to its cwd and reads
  // ./services, so it runs from a scratch dir holding a link to the sources).
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', join(imageRoot, 'dist')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  buildOutput = tsc.stdout + tsc.stderr;
  const scratch = mkdtempSync(join(tmpdir(), 'aurora-assets-'));
  symlinkSync(join(ROOT, 'services'), join(scratch, 'services'), 'dir');
  symlinkSync(join(ROOT, 'sdk'), join(scratch, 'sdk'), 'dir'); // the SDK modules the services import
  symlinkSync(join(imageRoot, 'dist'), join(scratch, 'dist'), 'dir');
  const assets = spawnSync(process.execPath, [join(ROOT, 'scripts', 'copy-assets.mjs')], { cwd: scratch, encoding: 'utf8' });
  buildOutput += assets.stdout + assets.stderr;
  rmSync(scratch, { recursive: true, force: true });
  buildOk = tsc.status === 0 && assets.status === 0;
}, 360_000);

afterAll(async () => {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await redis?.stop();
  if (imageRoot) rmSync(imageRoot, { recursive: true, force: true });
});

describe('production build (what the Dockerfile runs)', () => {
  it('type-checks and compiles every service to dist/services/<name>/main.js, Lua scripts beside their modules', () => {
    expect(present, 'every service has services/<name>/main.ts').toEqual([...DEPLOYMENTS]);
    expect(buildOk, `npm run build failed:\n${buildOutput}`).toBe(true);
    for (const svc of present) expect(existsSync(join(imageRoot, 'dist', 'services', svc, 'main.js')), svc).toBe(true);
    const lua = repoFiles((n) => n.endsWith('.lua'), join(ROOT, 'services'));
    for (const f of lua) expect(existsSync(join(imageRoot, 'dist', rel(f))), `dist/${rel(f)}`).toBe(true);
    // Nothing in the output still needs TypeScript tooling at run time.
    for (const svc of present) expect(readFileSync(join(imageRoot, 'dist', 'services', svc, 'main.js'), 'utf8')).not.toMatch(/from ['"]tsx/);
  });

  const k8s = k8sObjects().map((o) => o.obj);
  const configMap = find(k8sObjects(), 'ConfigMap', 'aurorachat-config')!;

  it.each(present)(
    '%s: the compiled service, in production with the k8s/ environment, answers the probe paths of its Deployment and exits 0 on SIGTERM',
    async (svc) => {
      expect(buildOk, 'build failed (see the first test)').toBe(true);
      const dep = k8s.find((o: Obj) => o.kind === 'Deployment' && o.metadata.name === svc)!;
      const c = mainContainer(dep);
      // The Deployment's literal values (ingestion's ASSISTANT_ENABLED=false) over the ConfigMap.
      const literal = (c.env ?? []).filter((e: Obj) => e.value !== undefined).map((e: Obj) => [e.name, String(e.value)]);
      const env: Record<string, string> = {
        ...configMap.data,
        ...Object.fromEntries(literal),
        JWT_SECRET: jwtSecret,
        REPLICA_ID: `${svc}-test-pod`,
        REDIS_URL: redis.url,
        HOST: '127.0.0.1', // the manifests' 0.0.0.0 is for a pod network, not this machine
        // No MongoDB server can run here: the embedded store stands in (same Store contract).
        MONGO_URL: '',
        SQLITE_PATH: join(imageRoot, `${svc}.db`),
        FRONTEND_DIR: join(imageRoot, 'frontend'),
        // No S3 here either: the disk storage stands in (same FileStorage contract).
        FILE_STORAGE: 'disk',
        FILES_DIR: join(imageRoot, `${svc}-files`),
      };
      // The Deployment's command where it has one (the assistant runs the ingestion image so).
      expect(c.command?.[0] ?? 'node').toBe('node');
      const p = await startCompiled(svc, env, c.command?.slice(1));
      // each probe on the container port it names: `http` (PORT) or `admin` (ADMIN_PORT)
      const portNamed = (name: string | number) => c.ports.find((cp: Obj) => cp.name === name || cp.containerPort === name)?.name;
      const probes = ['livenessProbe', 'readinessProbe', 'startupProbe']
        .map((k) => c[k]?.httpGet as Obj | undefined)
        .filter((x): x is Obj => Boolean(x));
      expect(probes.map((g) => g.path)).toEqual(expect.arrayContaining(['/healthz', '/readyz']));
      for (const g of probes) await waitHttp(p, g.path, 200, portNamed(g.port) === 'admin' ? p.adminBase : p.base);
      // /readyz and /metrics: never on the port a Service or Ingress routes traffic to
      for (const path of ['/readyz', '/metrics']) expect((await fetch(p.base + path)).status, `PORT ${path}`).toBe(404);
      const metrics = await waitHttp(p, '/metrics', 200, p.adminBase);
      const exported = await metrics.text();
      expect(exported).toMatch(/replica="[^"]*test-pod"/);
      // Only the assistant's own Deployment answers questions: ingestion runs without it here.
      expect(/^# TYPE aurora_assistant_requests_total counter$/m.test(exported), 'assistant metrics').toBe(svc === 'assistant');
      // Production logs are JSON lines (LOG_PRETTY=false), not pretty text.
      expect(p.logs.some((l) => l.startsWith('{') && JSON.parse(l).service === svc)).toBe(true);
      const t0 = Date.now();
      p.proc.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      const grace = dep.spec.template.spec.terminationGracePeriodSeconds * 1000;
      expect(Date.now() - t0).toBeLessThan(grace);
    },
    90_000,
  );

  it.each(present.slice(0, 1))('%s: refuses to start in production with the development JWT secret', async (svc) => {
    expect(buildOk).toBe(true);
    const p = await startCompiled(svc, { NODE_ENV: 'production', REDIS_URL: redis.url, SQLITE_PATH: join(imageRoot, 'x.db') });
    expect(await p.exited).not.toBe(0);
    expect(p.logs.join('\n')).toMatch(/JWT_SECRET/);
  }, 30_000);

  it('ships the operator CLI as dist/cli.js: an operator re-drives a dead letter from the built tree with the pod environment', async () => {
    expect(buildOk, 'build failed (see the first test)').toBe(true);
    expect(existsSync(join(imageRoot, 'dist', 'cli.js'))).toBe(true);
    // `kubectl exec deploy/ingestion -- node dist/cli.js …`: the image's working directory and the k8s/ environment.
    const env: Record<string, string> = { ...configMap.data, JWT_SECRET: jwtSecret, REDIS_URL: redis.url, MONGO_URL: '', SQLITE_PATH: join(imageRoot, 'cli.db') };
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['dist/cli.js', ...args], { cwd: imageRoot, env: { PATH: process.env.PATH ?? '', HOME: imageRoot, ...env }, encoding: 'utf8', timeout: 30_000 });
    const help = cli('help');
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('dead-letters redrive --all');
    expect(cli('config', 'check', '--service', 'ingestion').stdout).toMatch(/^ingestion: ok \(NODE_ENV=production, /m);

    const keys = keysFor(Number(env.PARTITIONS));
    const p = keys.partitionOf('general');
    const client = redis.client();
    const dl = await client.xadd(keys.deadLetter(p), '*', 'reason', 'store rejected: test', 'entryId', '1-1', 'stream', keys.ingestStream(p),
      'deliveries', '5', 'room', 'general', 'id', '1700000000000-0', 'uid', 'u1', 'name', 'ann', 'text', 'hello again', 'cid', 'c-cli');
    const before = await client.xlen(keys.ingestStream(p));
    const run = cli('dead-letters', 'redrive', '--all');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`redriven ${p}:${dl} -> ${keys.ingestStream(p)} `);
    expect(await client.xlen(keys.deadLetter(p))).toBe(0);
    expect(await client.xlen(keys.ingestStream(p))).toBe(before + 1);
  }, 60_000);
});

const lbReady = Boolean(nginxBin) && ['users', 'chat'].every((s) => present.includes(s as AppDeployment));
describe('deploy/nginx.conf in front of two compiled chat replicas and users (the compose topology)', () => {
  const title = (t: string) => (lbReady ? t : `SKIPPED: ${nginxBin ? 'users/chat sources missing' : 'nginx is not installed (apt-get install -y nginx-light)'} — ${t}`);
  const lbIt = lbReady ? it : it.skip;

  lbIt(title('serves REST and the client config from users and WebSockets from both chat replicas through one origin, spreading connections'), async () => {
    expect(buildOk).toBe(true);
    const compose = composeFile();
    const origin = 'http://localhost:8000';
    const envOf = (svc: string) => ({
      ...Object.fromEntries(
        Object.entries(compose.services[svc].environment as Obj).map(([k, v]) => [k, interpolate(String(v ?? ''), { JWT_SECRET: jwtSecret })]),
      ),
      REDIS_URL: redis.url,
      HOST: '127.0.0.1',
      MONGO_URL: '',
      SQLITE_PATH: join(imageRoot, 'lb.db'),
      FRONTEND_DIR: join(imageRoot, 'frontend'),
      FILES_DIR: join(imageRoot, 'lb-files'),
      BCRYPT_COST: '4',
      SHUTDOWN_DRAIN_MS: '1000',
    });
    const users = await startCompiled('users', envOf('users'));
    const chats = [await startCompiled('chat', envOf('chat')), await startCompiled('chat', envOf('chat'))];
    for (const p of [users, ...chats]) await waitHttp(p, '/readyz', 200, p.adminBase);

    // The committed config with only the addresses changed: compose DNS names -> local ports.
    const lbPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'aurora-nginx-'));
    mkdirSync(join(dir, 'logs'));
    const conf = readFileSync(join(ROOT, 'deploy', 'nginx.conf'), 'utf8')
      .replace(/^\s*resolver .*$/m, '') // Docker's DNS does not exist here
      .replace(/ resolve\b/g, '') // the `resolve` parameter needs nginx >= 1.27.3 (compose uses 1.28)
      .replace(/server chat:8080([^;]*);/, chats.map((c) => `server 127.0.0.1:${c.port}$1;`).join(' '))
      .replace(/server users:4000([^;]*);/, `server 127.0.0.1:${users.port}$1;`)
      .replace(/listen 80;/, `listen 127.0.0.1:${lbPort};`)
      .replace(/access_log \/dev\/stdout;/, 'access_log off;');
    expect(conf).toMatch(/least_conn;/);
    writeFileSync(join(dir, 'nginx.conf'), conf);
    const nginx = spawn(nginxBin!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(nginx);
    const nginxLogs: string[] = [];
    nginx.stderr!.on('data', (b: Buffer) => nginxLogs.push(b.toString()));
    const lb = `http://127.0.0.1:${lbPort}`;
    try {
      await waitFor(
        async () => {
          if (nginx.exitCode !== null) throw new Error(`nginx exited ${nginx.exitCode}: ${nginxLogs.join('')}`);
          return (await fetch(`${lb}/lb-healthz`)).ok;
        },
        { timeoutMs: 15_000, what: 'nginx /lb-healthz' },
      );

      // / -> users: the client config tells the browser to use /ws on this same origin.
      const cfg = await fetch(`${lb}/config.json`);
      expect(cfg.status).toBe(200);
      expect(((await cfg.json()) as { wsUrls: string[] }).wsUrls[0]).toMatch(/\/ws$/);
      expect((await fetch(`${lb}/metrics`)).status).toBe(404);

      // /api -> users: register and log in through the load balancer.
      const creds = { username: `lb_${Date.now() % 1e8}`, password: 'correct horse battery' };
      const post = (path: string, body: unknown) =>
        fetch(`${lb}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify(body) });
      expect((await post('/api/auth/register', creds)).status).toBe(201);
      const login = await post('/api/auth/login', creds);
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };

      // /ws -> chat: four sockets through one origin land on both replicas (least_conn).
      const open = () =>
        new Promise<{ ws: WebSocket; hello: Obj }>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${lbPort}/ws`, ['aurora.v1', `bearer.${token}`], { headers: { origin } });
          ws.once('message', (data) => resolve({ ws, hello: JSON.parse(String(data)) }));
          ws.once('error', reject);
          ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake ${res.statusCode}`)));
        });
      const sockets: { ws: WebSocket; hello: Obj }[] = [];
      for (let i = 0; i < 4; i++) sockets.push(await open());
      for (const s of sockets) {
        expect(s.hello.type).toBe('hello');
        expect(s.ws.protocol).toBe('aurora.v1');
      }
      const replicas = new Set(sockets.map((s) => s.hello.replica));
      expect(replicas.size, 'connections were not spread over both replicas').toBe(2);

      // A message sent on one replica reaches a socket on the other, through the balancer.
      const a = sockets.find((s) => s.hello.replica === sockets[0]!.hello.replica)!;
      const b = sockets.find((s) => s.hello.replica !== sockets[0]!.hello.replica)!;
      const frames = (s: { ws: WebSocket }) => {
        const got: Obj[] = [];
        s.ws.on('message', (d) => got.push(JSON.parse(String(d))));
        return got;
      };
      const fa = frames(a);
      const fb = frames(b);
      a.ws.send(JSON.stringify({ type: 'join', room: 'general' }));
      b.ws.send(JSON.stringify({ type: 'join', room: 'general' }));
      await waitFor(() => fa.some((f) => f.type === 'joined') && fb.some((f) => f.type === 'joined'), { timeoutMs: 10_000, what: 'joined' });
      const cid = `lb-${Date.now()}`;
      a.ws.send(JSON.stringify({ type: 'send', room: 'general', text: 'through the balancer', cid }));
      const msg = await waitFor(() => fb.find((f) => f.type === 'message' && f.cid === cid), { timeoutMs: 10_000, what: 'cross-replica message' });
      expect(msg.text).toBe('through the balancer');
      for (const s of sockets) s.ws.close();
    } finally {
      nginx.kill('SIGTERM');
      for (const p of [users, ...chats]) p.proc.kill('SIGTERM');
      await Promise.all([users, ...chats].map((p) => p.exited));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
