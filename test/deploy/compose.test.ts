// docker-compose.yml and its load balancer deploy/nginx.conf, checked without Docker: the
// infrastructure (mongo:7, redis with AOF, health checks, volumes), the replicated services and
// their start order, every config variable with a value loadConfig accepts in production, the
// images images.sh builds, and an nginx that balances chat by connections with WebSocket
// headers, long timeouts and no stickiness.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../services/shared/config.js';
import {
  ADMIN_PORT,
  ROOT,
  SERVICES,
  SERVICE_PORT,
  composeFile,
  directive,
  imageRepo,
  imagesShBuilds,
  interpolate,
  nginxBlocks,
  nginxSeconds,
  parseNginx,
  parseYamlFile,
  type Obj,
} from './load.js';

const compose = composeFile();
const services: Record<string, Obj> = compose.services;
const nginx = parseNginx(readFileSync(join(ROOT, 'deploy', 'nginx.conf'), 'utf8'));
const hostEnv = { JWT_SECRET: 'b'.repeat(40) + '-from-the-operators-env' };

/** A service's container environment after compose's interpolation with `host` as the shell env. */
function serviceEnv(name: string, host: Record<string, string> = hostEnv): Record<string, string> {
  const env = services[name]!.environment as Record<string, unknown>;
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(String(v ?? ''), host)]));
}

describe('docker-compose.yml', () => {
  it('runs MongoDB 7 and Redis 7 (pinned to a minor version) with AOF, volumes and health checks', () => {
    expect(services.mongo!.image).toMatch(/^mongo:7\.\d+(\.\d+)?$/);
    expect(services.mongo!.volumes).toContain('mongo-data:/data/db');
    expect(services.mongo!.healthcheck.test.join(' ')).toMatch(/mongosh .*ping/);
    expect(services.redis!.image).toMatch(/^redis:7\.\d+(\.\d+)?$/);
    const cmd: string[] = services.redis!.command;
    expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes');
    expect(cmd[cmd.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    // a bound (Redis refuses writes at it instead of growing until the host kills it)
    expect(cmd).toContain('--maxmemory');
    expect(cmd[cmd.indexOf('--maxmemory') + 1]).toMatch(/^[1-9]\d*(mb|gb)$/);
    expect(services.redis!.volumes).toContain(`redis-data:${cmd[cmd.indexOf('--dir') + 1]}`);
    expect(services.redis!.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['mongo-data', 'redis-data']));
  });

  it('limits every container\'s CPU and memory; Redis\' maxmemory leaves room under its limit, as in k8s/base', () => {
    const bytes = (v: string) => {
      const m = /^(\d+(?:\.\d+)?)(b|k|m|g|kb|mb|gb)?$/i.exec(v)!;
      expect(m, v).not.toBeNull();
      return Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? 'b')[0]!.toLowerCase() as 'b'] ?? 1);
    };
    for (const [name, svc] of Object.entries(services)) {
      const limits = svc.deploy?.resources?.limits;
      expect(limits, `${name}: deploy.resources.limits`).toBeDefined();
      expect(Number(limits.cpus), `${name}: cpus`).toBeGreaterThan(0);
      expect(bytes(String(limits.memory)), `${name}: memory`).toBeGreaterThan(64 * 1024 ** 2);
    }
    const cmd: string[] = services.redis!.command;
    const maxmemory = bytes(cmd[cmd.indexOf('--maxmemory') + 1]!);
    expect(maxmemory).toBeLessThanOrEqual(bytes(services.redis!.deploy.resources.limits.memory) * 0.8);
    // the same bound as the Kubernetes Redis (README "Redis memory and one user")
    const k8sRedis = (parseYamlFile(join(ROOT, 'k8s', 'base', '10-redis.yaml')) as Obj[]).find((o) => o.kind === 'StatefulSet')!;
    const k8sArgs: string[] = k8sRedis.spec.template.spec.containers[0].args;
    expect(bytes(k8sArgs[k8sArgs.indexOf('--maxmemory') + 1]!)).toBe(maxmemory);
  });

  it('builds each service from the Dockerfile target of the same name, as the image images.sh builds', () => {
    const built = imagesShBuilds().map(imageRepo).sort();
    const used: string[] = [];
    for (const svc of SERVICES) {
      expect(services[svc]!.build).toEqual({ context: '.', target: svc });
      const image = interpolate(services[svc]!.image, {});
      expect(imageRepo(image)).toBe(`aurorachat-${svc}`);
      used.push(imageRepo(image));
    }
    expect(used.sort()).toEqual(built);
  });

  it('replicates chat and ingestion (at least two each), behind healthy infrastructure', () => {
    expect(services.chat!.deploy.replicas).toBeGreaterThanOrEqual(2);
    expect(services.ingestion!.deploy.replicas).toBeGreaterThanOrEqual(2);
    const healthy = (svc: string, dep: string) => services[svc]!.depends_on[dep]?.condition === 'service_healthy';
    expect(healthy('chat', 'redis')).toBe(true);
    expect(services.chat!.depends_on.mongo, 'chat replicas touch Redis only, never the database').toBeUndefined();
    for (const svc of ['users', 'ingestion']) {
      expect(healthy(svc, 'redis')).toBe(true);
      expect(healthy(svc, 'mongo')).toBe(true);
    }
    // Replicated services cannot have fixed names or host ports.
    for (const svc of SERVICES) {
      expect(services[svc]!.container_name).toBeUndefined();
      expect(services[svc]!.ports).toBeUndefined();
    }
  });

  it('gives every service every variable the config schema knows, and nothing else', () => {
    for (const svc of SERVICES) {
      const keys = Object.keys(services[svc]!.environment).sort();
      expect(keys, svc).toEqual([...CONFIG_VARIABLES].sort());
    }
  });

  it.each(SERVICES)('%s: its environment passes loadConfig in production (MongoDB, Redis, one origin via /ws)', (svc) => {
    const env = serviceEnv(svc);
    const config = loadConfig(svc, env);
    expect(config.isProduction).toBe(true);
    expect(config.port).toBe(SERVICE_PORT[svc]);
    // the admin port (/readyz, /metrics) on the compose network only: `expose`, never `ports`
    expect(config.adminPort).toBe(ADMIN_PORT[svc]);
    expect(services[svc]!.expose).toEqual([String(SERVICE_PORT[svc]), String(ADMIN_PORT[svc])]);
    expect(services[svc]!.ports).toBeUndefined();
    expect(config.store).toBe('mongo');
    expect(new URL(config.MONGO_URL!).host).toBe('mongo:27017');
    expect(new URL(config.REDIS_URL).host).toBe('redis:6379');
    expect(config.PUBLIC_WS_URL).toBe('/ws');
    // The origin the browser sees is the load balancer's published port.
    const published = services.lb!.ports.map((p: string) => p.split(':')[0]);
    expect(config.ALLOWED_ORIGINS).toContain(`http://localhost:${published[0]}`);
    expect(config.JWT_SECRET).toBe(hostEnv.JWT_SECRET);
  });

  it('takes JWT_SECRET from the operator environment and refuses to start without it', () => {
    for (const svc of SERVICES) {
      expect(String(services[svc]!.environment.JWT_SECRET)).toMatch(/^\$\{JWT_SECRET:\?[^}]+\}$/);
      expect(() => serviceEnv(svc, {})).toThrow(/JWT_SECRET/);
    }
  });

  it('stops chat within a grace period longer than its drain window plus the shutdown margin', () => {
    const seconds = (v: string) => Number(/^(\d+)s$/.exec(v)![1]);
    for (const svc of SERVICES) {
      const drain = Number(serviceEnv(svc).SHUTDOWN_DRAIN_MS) / 1000;
      expect(seconds(services[svc]!.stop_grace_period), svc).toBeGreaterThan(drain + 15);
      expect(services[svc]!.init, `${svc}: init forwards SIGTERM and reaps`).toBe(true);
    }
  });
});

describe('deploy/nginx.conf (the chat load balancer of docker-compose.yml)', () => {
  const upstream = (name: string) => nginxBlocks(nginx, 'upstream').find((u) => u.args[0] === name)!;
  const location = (path: string) => nginxBlocks(nginx, 'location').find((l) => l.args.at(-1) === path)!;

  it('is mounted by the lb service, which publishes one origin and waits for chat and users', () => {
    const lb = services.lb!;
    expect(lb.image).toMatch(/^nginx:1\.(2[89]|[3-9]\d)/); // `server ... resolve` needs nginx >= 1.27.3
    expect(lb.volumes).toContain('./deploy/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(lb.ports).toHaveLength(1);
    expect(lb.depends_on.chat.condition).toBe('service_healthy');
    expect(lb.depends_on.users.condition).toBe('service_healthy');
  });

  it('balances chat replicas by least connections with no sticky sessions', () => {
    const chat = upstream('chat');
    expect(chat.directives.map((d) => d.name)).toContain('least_conn');
    for (const sticky of ['ip_hash', 'hash', 'sticky']) expect(directive(chat, sticky), sticky).toEqual([]);
    // Each upstream names a compose service on the port its PORT variable sets.
    for (const [name, svc] of [['chat', 'chat'], ['users', 'users']] as const) {
      const servers = directive(upstream(name), 'server');
      expect(servers).toHaveLength(1);
      expect(servers[0]![0]).toBe(`${svc}:${serviceEnv(svc).PORT}`);
      expect(servers[0]).toContain('resolve'); // re-resolved: `--scale chat=N` needs no reload
    }
    expect(directive(nginxBlocks(nginx, 'http')[0]!, 'resolver')[0]![0]).toBe('127.0.0.11');
  });

  it('routes /ws to chat with the WebSocket upgrade headers and hour-long timeouts', () => {
    const ws = location('/ws');
    expect(directive(ws, 'proxy_pass')).toEqual([['http://chat']]);
    expect(directive(ws, 'proxy_http_version')).toEqual([['1.1']]);
    const headers = Object.fromEntries(directive(ws, 'proxy_set_header').map(([k, v]) => [k!.toLowerCase(), v]));
    expect(headers.upgrade).toBe('$http_upgrade');
    expect(headers.connection).toBe('$connection_upgrade');
    expect(headers.host).toBe('$host');
    expect(headers['x-forwarded-for']).toBe('$proxy_add_x_forwarded_for');
    const map = nginxBlocks(nginx, 'map').find((m) => m.args[1] === '$connection_upgrade')!;
    expect(map.args[0]).toBe('$http_upgrade');
    expect(nginxSeconds(directive(ws, 'proxy_read_timeout')[0]![0]!)).toBeGreaterThanOrEqual(3600);
    expect(nginxSeconds(directive(ws, 'proxy_send_timeout')[0]![0]!)).toBeGreaterThanOrEqual(3600);
  });

  it('sends everything else to users (REST, client, /config.json) and hides /metrics', () => {
    const root = location('/');
    expect(directive(root, 'proxy_pass')).toEqual([['http://users']]);
    const headers = directive(root, 'proxy_set_header').map(([k]) => k!.toLowerCase());
    expect(headers).toEqual(expect.arrayContaining(['host', 'x-forwarded-for', 'x-forwarded-proto']));
    expect(directive(location('/metrics'), 'return')).toEqual([['404']]);
  });
});
