// The in-cluster Redis and MongoDB of k8s/base run with credentials from the Secrets, checked
// without a cluster: Redis started for real with the StatefulSet's own arguments (the kubelet's
// $(VAR) expansion done here) answers the apps' REDIS_URL from the example Secret and nobody
// else, and its readiness probe tells the two apart; MongoDB's init script (which creates the
// app's user from MONGO_URL) runs against a recording `db`, since no mongod runs here. Both
// Secrets' example values are consistent with each other and with the ConfigMap.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/shared/config.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { DEPLOYMENTS, exampleSecrets, find, k8sObjects, mainContainer, podEnv, type Obj } from './load.js';

const objects = k8sObjects();
const all = objects.map((o) => o.obj);
const configMap = find(objects, 'ConfigMap', 'aurorachat-config')!.data as Record<string, string>;
const { app: appSecret, datastores } = exampleSecrets();
const redisSts = find(objects, 'StatefulSet', 'redis')!;
const mongoSts = find(objects, 'StatefulSet', 'mongo')!;

/** A container's env as the kubelet builds it, with `secrets` as the Secrets' data by name. */
function containerEnv(c: Obj, secrets: Record<string, Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (e.value !== undefined) env[e.name] = expand(String(e.value), env);
    else if (ref) env[e.name] = secrets[ref.name]![ref.key]!;
  }
  return env;
}
/** The kubelet's $(VAR) expansion in command, args and env values: defined names only, $$ escapes. */
const expand = (s: string, env: Record<string, string>) =>
  s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name) => (whole === '$$' ? '$' : (env[name] ?? whole)));

const secretsData = (over: Record<string, string> = {}) => ({
  [appSecret.metadata.name]: appSecret.stringData,
  [datastores.metadata.name]: { ...datastores.stringData, ...over },
});

describe('the example Secrets', () => {
  it('give the apps the URLs of the in-cluster Services, with the credentials the datastores are started with', () => {
    const redisUrl = new URL(appSecret.stringData.REDIS_URL);
    expect(redisUrl.hostname).toBe(new URL(configMap.REDIS_URL!).hostname);
    expect(redisUrl.port).toBe(new URL(configMap.REDIS_URL!).port);
    expect(decodeURIComponent(redisUrl.username)).toBe(datastores.stringData.REDIS_USERNAME);
    expect(decodeURIComponent(redisUrl.password)).toBe(datastores.stringData.REDIS_PASSWORD);
    const mongoUrl = new URL(appSecret.stringData.MONGO_URL);
    expect(mongoUrl.host).toBe(new URL(configMap.MONGO_URL!).host);
    expect(mongoUrl.pathname).toBe(new URL(configMap.MONGO_URL!).pathname);
    expect(mongoUrl.username).not.toBe(datastores.stringData.MONGO_INITDB_ROOT_USERNAME); // not root
  });

  it.each(DEPLOYMENTS)('%s: the Secret\'s URLs win over the credential-less ConfigMap ones; the datastores Secret is not mounted', (svc) => {
    const c = mainContainer(find(objects, 'Deployment', svc)!);
    const config = loadConfig(svc, podEnv(objects, c, { ...appSecret.stringData, JWT_SECRET: 'k'.repeat(48) }, 'p'));
    expect(config.REDIS_URL).toBe(appSecret.stringData.REDIS_URL);
    expect(config.MONGO_URL).toBe(appSecret.stringData.MONGO_URL);
    expect(JSON.stringify(c)).not.toContain(datastores.metadata.name);
  });

  it('only Redis, MongoDB (and KEDA, in its component) read the datastores Secret', () => {
    const readers = all
      .filter((o) => JSON.stringify(o.spec?.template ?? {}).includes(datastores.metadata.name))
      .map((o) => `${o.kind}/${o.metadata.name}`);
    expect(readers.sort()).toEqual(['StatefulSet/mongo', 'StatefulSet/redis']);
  });
});

describe('Redis: the StatefulSet\'s arguments on a real redis-server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aurora-k8s-redis-'));
  const c = mainContainer(redisSts);
  const env = containerEnv(c, secretsData());
  let port = 0;
  let proc: ChildProcess;
  const clients: Redis[] = [];
  /** A client of `url` with its host and port swapped for the local server's. */
  const client = (url: string) => {
    const local = new URL(url);
    local.hostname = '127.0.0.1';
    local.port = String(port);
    const r = new Redis(local.toString(), {
      lazyConnect: true,
      enableReadyCheck: false, // its INFO would fail without credentials, closing the connection
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    r.on('error', () => {});
    clients.push(r);
    return r;
  };
  const probe = (probeEnv: Record<string, string>) => {
    const [sh, flag, script] = c.readinessProbe.exec.command as string[];
    return spawnSync(sh!, [flag!, script!.replace('redis-cli', `redis-cli -p ${port}`)], {
      env: { PATH: process.env.PATH ?? '', ...probeEnv },
      encoding: 'utf8',
      timeout: 5000,
    }).status;
  };

  beforeAll(async () => {
    port = await freePort();
    const args = (c.args as string[]).map((a) => expand(a, env));
    expect(args[0]).toBe('redis-server');
    // the manifest's own flags; only where this machine differs: the data dir (its volume), port, address
    args[args.indexOf('--dir') + 1] = dir;
    proc = spawn('redis-server', [...args.slice(1), '--port', String(port), '--bind', '127.0.0.1', '--save', ''], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`redis-server exited ${proc.exitCode} with the manifest's arguments`);
      return /NOAUTH|PONG/.test(spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout);
    }, {
      timeoutMs: 10_000,
      what: `redis-server on ${port}`,
    });
  }, 20_000);
  afterAll(async () => {
    for (const r of clients) r.disconnect();
    if (proc && proc.exitCode === null) {
      await new Promise((resolve) => {
        proc.once('exit', resolve);
        proc.kill('SIGKILL');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('the apps\' REDIS_URL (the example Secret) reads and writes, streams included', async () => {
    const r = client(appSecret.stringData.REDIS_URL);
    await r.connect();
    expect(await r.set('k8s:probe', 'ok')).toBe('OK');
    expect(await r.get('k8s:probe')).toBe('ok');
    expect(await r.xadd('aurora:{0}:ingest', '*', 'f', 'v')).toMatch(/^\d+-\d+$/);
    expect(await r.acl('WHOAMI')).toBe(datastores.stringData.REDIS_USERNAME);
  });

  it('refuses a connection without credentials (the default user is off) and a wrong password', async () => {
    const anon = client('redis://redis:6379');
    await anon.connect();
    await expect(anon.get('k8s:probe')).rejects.toThrow(/NOAUTH/);
    await expect(anon.call('AUTH', datastores.stringData.REDIS_USERNAME, 'not-the-password')).rejects.toThrow(/WRONGPASS/);
    await expect(anon.call('AUTH', 'default', '')).rejects.toThrow(/WRONGPASS/);
    await expect(anon.get('k8s:probe')).rejects.toThrow(/NOAUTH/);
  });

  it('its readiness probe passes with the container\'s credentials and fails without them', () => {
    expect(probe({ REDIS_USERNAME: env.REDIS_USERNAME!, REDISCLI_AUTH: env.REDISCLI_AUTH! })).toBe(0);
    expect(probe({ REDIS_USERNAME: env.REDIS_USERNAME!, REDISCLI_AUTH: 'wrong' })).not.toBe(0);
    expect(probe({})).not.toBe(0);
  });

  it('takes the ACL user and password from the datastores Secret, never as literals in the manifest', () => {
    const refs = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
    expect(refs.REDIS_USERNAME).toEqual({ name: datastores.metadata.name, key: 'REDIS_USERNAME' });
    expect(refs.REDIS_PASSWORD).toEqual({ name: datastores.metadata.name, key: 'REDIS_PASSWORD' });
    expect(refs.REDISCLI_AUTH).toEqual({ name: datastores.metadata.name, key: 'REDIS_PASSWORD' });
    const args: string[] = c.args;
    expect(args.slice(args.indexOf('--user'), args.indexOf('--user') + 3)).toEqual(['--user', 'default', 'off']);
    expect(args).toContain('>$(REDIS_PASSWORD)');
    expect(JSON.stringify(redisSts)).not.toContain(datastores.stringData.REDIS_PASSWORD);
  });
});

describe('MongoDB: authentication on, the app\'s own user created from MONGO_URL', () => {
  const c = mainContainer(mongoSts);
  const init = find(objects, 'ConfigMap', 'mongo-init')!;
  const script: string = init.data['create-app-user.js'];
  /** Runs the init script as mongosh would on the first start, against a `db` that records. */
  function runInit(env: Record<string, string>) {
    const created: { db: string; user: Obj }[] = [];
    const db = { getSiblingDB: (name: string) => ({ createUser: (user: Obj) => created.push({ db: name, user }) }) };
    runInNewContext(script, { process: { env }, db, print: () => {} });
    return created;
  }
  const realEnv = (url: string) => ({ MONGO_URL: url, MONGO_INITDB_ROOT_PASSWORD: 'f'.repeat(64) });

  it('root comes from the datastores Secret, MONGO_URL from the apps\' Secret, the script from the ConfigMap', () => {
    const refs = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
    expect(refs).toEqual({
      MONGO_INITDB_ROOT_USERNAME: { name: datastores.metadata.name, key: 'MONGO_INITDB_ROOT_USERNAME' },
      MONGO_INITDB_ROOT_PASSWORD: { name: datastores.metadata.name, key: 'MONGO_INITDB_ROOT_PASSWORD' },
      MONGO_URL: { name: appSecret.metadata.name, key: 'MONGO_URL' },
    });
    const vol = mongoSts.spec.template.spec.volumes.find((v: Obj) => v.configMap?.name === init.metadata.name);
    expect(c.volumeMounts).toContainEqual({ name: vol.name, mountPath: '/docker-entrypoint-initdb.d', readOnly: true });
  });

  it('creates the URL\'s user with readWrite on the URL\'s database only (percent-encoding decoded)', () => {
    const created = runInit(realEnv('mongodb://aurora:a%2Fb%40c@mongo:27017/aurorachat?authSource=aurorachat'));
    expect(created).toEqual([
      { db: 'aurorachat', user: { user: 'aurora', pwd: 'a/b@c', roles: [{ role: 'readWrite', db: 'aurorachat' }] } },
    ]);
  });

  it('refuses, creating nothing, a URL without credentials and the example\'s placeholders', () => {
    expect(() => runInit(realEnv('mongodb://mongo:27017/aurorachat'))).toThrow(/MONGO_URL .* must be mongodb:\/\/USER:PASSWORD@/);
    expect(() => runInit(realEnv(''))).toThrow(/MONGO_URL/);
    const example = { MONGO_URL: appSecret.stringData.MONGO_URL, MONGO_INITDB_ROOT_PASSWORD: datastores.stringData.MONGO_INITDB_ROOT_PASSWORD };
    expect(() => runInit(example)).toThrow(/example placeholders/);
    expect(() => runInit({ ...example, MONGO_URL: 'mongodb://aurora:' + 'e'.repeat(64) + '@mongo:27017/aurorachat' })).toThrow(/example placeholders/);
  });
});
