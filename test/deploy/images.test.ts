// The container images: the multi-stage Dockerfile (one target per service, compiled JS only,
// non-root, NODE_ENV=production, exec-form CMD so SIGTERM reaches node, a health check on the
// service's port), the build context .dockerignore lets through, and images.sh (names, tags,
// registry prefix, push; bash -n and shellcheck clean).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ROOT,
  SERVICES,
  SERVICE_PORT,
  dockerIgnored,
  dockerignorePatterns,
  execForm,
  imagesShBuilds,
  parseDockerfile,
  repoFiles,
  rel,
  type Instruction,
} from './load.js';

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const ignore = dockerignorePatterns();

/** The instructions that apply to `stage`, following FROM <earlier stage> back to the base image. */
function stageChain(stage: string): Instruction[] {
  const own = dockerfile.filter((i) => i.stage === stage);
  const from = own[0]!.args.split(/\s+/)[0]!;
  const parent = dockerfile.some((i) => i.cmd === 'FROM' && i.stage === from) ? stageChain(from) : [];
  return [...parent, ...own];
}

/** Value of the last `ENV NAME=value` in effect for `stage`. */
function envOf(stage: string, name: string): string | undefined {
  let value: string | undefined;
  for (const i of stageChain(stage).filter((x) => x.cmd === 'ENV'))
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) if (m[1] === name) value = m[2]!.replace(/^"|"$/g, '');
  return value;
}

const shellcheck = spawnSync('shellcheck', ['--version']).status === 0;

describe('Dockerfile', () => {
  it('has one target per service, each built on a shared runtime stage of Node 22 LTS slim, pinned to a minor release', () => {
    const stages = dockerfile.filter((i) => i.cmd === 'FROM').map((i) => i.stage);
    for (const svc of SERVICES) expect(stages).toContain(svc);
    const arg = dockerfile.find((i) => i.cmd === 'ARG' && i.args.startsWith('NODE_IMAGE='))!;
    // Node 20 reached end of life in April 2026; `node:22-…` alone would float across minors
    expect(arg.args).toMatch(/^NODE_IMAGE=node:22\.\d+(\.\d+)?-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    // every stage starts from it (or from an earlier stage)
    for (const from of dockerfile.filter((i) => i.cmd === 'FROM')) expect(from.args.split(/\s+/)[0], from.stage).toMatch(/^(\$\{NODE_IMAGE\}|build|runtime)$/);
  });

  it.each(SERVICES)('%s: CMD runs compiled JS with node directly (exec form, no tsx, no shell)', (svc) => {
    const cmds = stageChain(svc).filter((i) => i.cmd === 'CMD');
    const cmd = execForm(cmds.at(-1)!.args);
    expect(cmd).toEqual(['node', `dist/services/${svc}/main.js`]);
    expect(stageChain(svc).some((i) => i.cmd === 'ENTRYPOINT'), 'an ENTRYPOINT would wrap node').toBe(false);
    // The source the compiled file comes from exists.
    expect(existsSync(join(ROOT, 'services', svc, 'main.ts')) || !existsSync(join(ROOT, 'services', svc))).toBe(true);
  });

  it.each(SERVICES)('%s: runs as the non-root node user with NODE_ENV=production', (svc) => {
    const users = stageChain(svc).filter((i) => i.cmd === 'USER');
    expect(users.at(-1)?.args).toBe('node');
    expect(envOf(svc, 'NODE_ENV')).toBe('production');
    expect(envOf(svc, 'PORT')).toBe(String(SERVICE_PORT[svc]));
    const expose = stageChain(svc).filter((i) => i.cmd === 'EXPOSE').map((i) => i.args);
    expect(expose.at(-1)).toBe(String(SERVICE_PORT[svc]));
  });

  it.each(SERVICES)('%s: HEALTHCHECK fetches /healthz on its own port with node (no curl in slim images)', (svc) => {
    const hc = stageChain(svc).filter((i) => i.cmd === 'HEALTHCHECK').at(-1)!;
    const m = /^((?:--\S+\s+)*)CMD\s+(\[.*\])$/s.exec(hc.args)!;
    expect(m, hc.args).not.toBeNull();
    const cmd = execForm(m[2]!)!;
    expect(cmd[0]).toBe('node');
    expect(cmd.join(' ')).toContain(`process.env.PORT||${SERVICE_PORT[svc]})+'/healthz'`);
    // The check itself is valid JavaScript.
    expect(() => new Function(cmd[2]!)).not.toThrow();
  });

  it('compiles in the build stage (native toolchain, npm ci, npm run build, prune) and ships only the result', () => {
    const build = dockerfile.filter((i) => i.stage === 'build').map((i) => `${i.cmd} ${i.args}`).join('\n');
    expect(build).toMatch(/apt-get install[^\n]*python3[^\n]*make[^\n]*g\+\+/);
    expect(build).toMatch(/RUN npm ci\b/);
    expect(build).toMatch(/npm run build/);
    expect(build).toMatch(/npm prune --omit=dev/);
    const runtimeCopies = dockerfile.filter((i) => i.stage === 'runtime' && i.cmd === 'COPY').map((i) => i.args);
    for (const from of runtimeCopies.filter((a) => a.startsWith('--from'))) expect(from).toMatch(/^--from=build /);
    const copied = runtimeCopies.map((a) => a.split(/\s+/).at(-1));
    expect(copied).toEqual(expect.arrayContaining(['./node_modules', './dist', './frontend']));
    expect(copied.join(' ')).not.toMatch(/services|tsconfig/);
  });

  it('copies only paths that exist in the repo and that .dockerignore lets into the build context', () => {
    const sources = dockerfile
      .filter((i) => i.cmd === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1));
    expect(sources.length).toBeGreaterThan(4);
    for (const src of sources) {
      expect(existsSync(join(ROOT, src)), `COPY ${src}: missing`).toBe(true);
      expect(dockerIgnored(src, ignore), `COPY ${src}: excluded by .dockerignore`).toBe(false);
    }
    // Everything the build compiles or copies is in the context: sources, Lua, the client.
    for (const f of repoFiles((n) => /\.(ts|lua)$/.test(n) && !/(\.test\.ts|(^|\/)test-[^/]*\.ts)$/.test(n), join(ROOT, 'services')))
      expect(dockerIgnored(rel(f), ignore), rel(f)).toBe(false);
  });

  it('.dockerignore keeps dependencies, local data, git and secrets out of the build context', () => {
    for (const p of ['node_modules', 'node_modules/x/y.js', '.git/config', 'dist/a.js', '.data/aurora.db', '.env', '.env.production'])
      expect(dockerIgnored(p, ignore), p).toBe(true);
    expect(dockerIgnored('services/chat/server.test.ts', ignore)).toBe(true);
    expect(dockerIgnored('services/chat/server.ts', ignore)).toBe(false);
  });
});

describe('images.sh', () => {
  it('builds aurorachat-users, aurorachat-chat and aurorachat-ingestion from their Dockerfile targets', () => {
    const out = execFileSync('bash', ['images.sh', '--dry-run', 'v1.2.3'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const builds = out.split('\n').filter((l) => l.startsWith('docker build'));
    expect(builds).toHaveLength(3);
    for (const [i, svc] of SERVICES.entries()) {
      expect(builds[i]).toContain(`--target ${svc} `);
      expect(builds[i]).toContain(`--tag aurorachat-${svc}:v1.2.3 `);
      expect(builds[i]!.trim().endsWith(' .')).toBe(true);
    }
    expect(out).not.toContain('docker push');
  });

  it('tags from git describe by default, prefixes REGISTRY and pushes with --push', () => {
    const described = execFileSync('git', ['describe', '--tags', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const def = execFileSync('bash', ['images.sh', '--dry-run'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(def).toContain(`--tag aurorachat-chat:${described} `);
    expect(imagesShBuilds('v2', { REGISTRY: 'ghcr.io/acme/' })).toEqual([
      'ghcr.io/acme/aurorachat-users:v2',
      'ghcr.io/acme/aurorachat-chat:v2',
      'ghcr.io/acme/aurorachat-ingestion:v2',
    ]);
    const pushed = execFileSync('bash', ['images.sh', '--dry-run', '--push', 'v2'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, REGISTRY: 'registry.example.com' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(pushed.split('\n').filter((l) => l.startsWith('docker push'))).toEqual([
      'docker push registry.example.com/aurorachat-users:v2 ',
      'docker push registry.example.com/aurorachat-chat:v2 ',
      'docker push registry.example.com/aurorachat-ingestion:v2 ',
    ]);
  });

  it('refuses an invalid tag and an unknown option with exit code 2', () => {
    for (const args of [['--dry-run', 'not a tag'], ['--dry-run', 'bad/tag'], ['--frobnicate']]) {
      const r = spawnSync('bash', ['images.sh', ...args], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).not.toContain('docker build');
    }
  });

  it('passes bash -n', () => {
    const r = spawnSync('bash', ['-n', 'images.sh'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  const scripts = ['images.sh', 'run.sh'].filter((s) => existsSync(join(ROOT, s)));
  (shellcheck ? it : it.skip)(
    shellcheck
      ? `shellcheck finds nothing in ${scripts.join(' and ')}`
      : `SKIPPED: shellcheck is not installed (apt-get install -y shellcheck), ${scripts.join(' and ')} NOT linted`,
    () => {
      expect(scripts).toContain('images.sh');
      const r = spawnSync('shellcheck', ['--severity=style', ...scripts], { cwd: ROOT, encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    },
  );
});
