// Repo-wide deploy hygiene: every YAML document and every Dockerfile in the repository parses;
// no plaintext secret is committed outside clearly marked examples; `kubectl kustomize k8s/base`
// builds the same objects `kubectl apply -f k8s/base/` would apply (when kubectl is installed;
// the overlays: k8s-overlays.test.ts).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEV_JWT_SECRET } from '../../services/shared/config.js';
import { K8S_DIR, K8S_EXAMPLES, k8sObjects, kustomization, parseDockerfile, parseYamlFile, rel, repoFiles, yamlFiles, type Obj } from './load.js';

/** Files that configure a deployment or a machine: where a secret must never be written. */
function deployFiles(): string[] {
  return repoFiles(
    (n) =>
      /\.(ya?ml|json|sh|conf|env|ini|toml|md)$/.test(n) ||
      /^(Dockerfile.*|.*\.Dockerfile|Kustomization|\.env.*|\.dockerignore)$/.test(n),
  ).filter((f) => !/package(-lock)?\.json$|tsconfig.*\.json$/.test(f));
}

const isExample = (path: string) => /(^|\/)examples?\/|\.example\./.test(path);

/** Secret-looking content in one file's text; `path` decides whether example placeholders are allowed. */
export function findSecrets(path: string, text: string): string[] {
  const found: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const at = `${path}:${i + 1}`;
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(line)) found.push(`${at}: private key`);
    if (/\bAKIA[0-9A-Z]{16}\b/.test(line)) found.push(`${at}: AWS access key id`);
    if (/\bgh[pousr]_[A-Za-z0-9]{36,}\b/.test(line)) found.push(`${at}: GitHub token`);
    if (/\bxox[abprs]-[A-Za-z0-9-]{10,}/.test(line)) found.push(`${at}: Slack token`);
    if (/\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.test(line)) found.push(`${at}: JWT`);
    // The public dev default may be documented, but no deploy file may set it.
    if (line.includes(DEV_JWT_SECRET) && !path.endsWith('.md')) found.push(`${at}: the development JWT secret in a deploy file`);
    if (/^\s*#/.test(line)) return; // comments may show commands and placeholders
    // JWT_SECRET / *_PASSWORD / *_TOKEN / *_API_KEY with a literal value (YAML `K: v`, env/shell `K=v`).
    const assign = /\b([A-Z0-9_]*(?:SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|ACCESS_KEY))\b["']?\s*[:=]\s*["']?([^"'\s#]+)/.exec(line);
    if (assign) {
      const value = assign[2]!;
      const reference = /^\$\{?[A-Za-z_]/.test(value) || /^(\$\(|<|\{\{)/.test(value); // ${VAR:?..}, $(cmd), <placeholder>
      if (!reference && !(isExample(path) && /REPLACE|EXAMPLE|CHANGE/i.test(value)))
        found.push(`${at}: ${assign[1]} has a literal value`);
    }
    // Credentials inside a URL: scheme://user:password@host.
    const cred = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]+:([^\s@/'"]+)@/.exec(line);
    if (cred && !isExample(path) && !/^\$\{|^<|^(pass(word)?|PASSWORD)$/.test(cred[1]!))
      found.push(`${at}: credentials in a URL`);
  });
  // A Kubernetes Secret with data is allowed only as a marked example.
  if (/\.ya?ml$/.test(path) && /^kind:\s*Secret\s*$/m.test(text) && !(isExample(path) && /EXAMPLE ONLY/.test(text)))
    found.push(`${path}: a Kubernetes Secret outside a marked example`);
  return found;
}

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

describe('every YAML file and Dockerfile in the repo', () => {
  it('parses: every YAML document without errors or warnings', () => {
    const files = yamlFiles();
    expect(files.map(rel)).toEqual(
      expect.arrayContaining(['docker-compose.yml', 'k8s/base/Kustomization', 'k8s/base/30-chat.yaml', 'k8s/overlays/autoscale/Kustomization', 'k8s/components/keda/Kustomization']),
    );
    for (const f of files) {
      // Compose files use merge keys (<<: *anchor).
      const docs = parseYamlFile(f, { merge: /compose/.test(basename(f)) });
      expect(docs.length, rel(f)).toBeGreaterThan(0);
      for (const d of docs) expect(typeof d, rel(f)).toBe('object');
    }
  });

  it('rejects broken YAML (the parser above is strict)', () => {
    const docs = parseAllDocuments('a: [1, 2\nb: c\n');
    expect((Array.isArray(docs) ? docs : [docs]).some((d) => d.errors.length > 0)).toBe(true);
  });

  it('parses every Dockerfile into known instructions, each stage starting FROM an image or an earlier stage', () => {
    const files = repoFiles((n) => /^Dockerfile(\..+)?$|\.Dockerfile$/.test(n));
    expect(files.map(rel)).toContain('Dockerfile');
    const known = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);
    for (const f of files) {
      const ins = parseDockerfile(readFileSync(f, 'utf8'));
      const firstNonArg = ins.find((i) => i.cmd !== 'ARG')!;
      expect(firstNonArg.cmd, rel(f)).toBe('FROM');
      for (const i of ins) expect(known.has(i.cmd), `${rel(f)}:${i.line} ${i.cmd}`).toBe(true);
      const stages: string[] = [];
      for (const from of ins.filter((i) => i.cmd === 'FROM')) {
        const base = from.args.split(/\s+/)[0]!;
        expect(base.includes(':') || base.startsWith('$') || stages.includes(base), `${rel(f)}:${from.line} FROM ${base}`).toBe(true);
        stages.push(from.stage);
      }
      for (const copy of ins.filter((i) => i.cmd === 'COPY' && i.args.includes('--from=')))
        expect(stages).toContain(/--from=(\S+)/.exec(copy.args)![1]);
    }
  });
});

describe('no plaintext secrets', () => {
  it('no deploy or documentation file holds a secret, except placeholders in marked examples', () => {
    const files = deployFiles();
    expect(files.map(rel)).toEqual(expect.arrayContaining(['docker-compose.yml', 'k8s/base/01-configmap.yaml', 'k8s/examples/secret.example.yaml', 'images.sh']));
    const found = files.flatMap((f) => findSecrets(rel(f), readFileSync(f, 'utf8')));
    expect(found).toEqual([]);
  });

  it('the committed Secrets are a marked example whose placeholders the services and MongoDB reject', () => {
    const [secret, datastores] = parseYamlFile(join(K8S_EXAMPLES, 'secret.example.yaml')) as Obj[];
    expect(readFileSync(join(K8S_EXAMPLES, 'secret.example.yaml'), 'utf8')).toMatch(/^# EXAMPLE ONLY — NOT A REAL SECRET/);
    expect(secret!.stringData.JWT_SECRET.length).toBeLessThan(32); // loadConfig refuses < 32 chars in production
    // every password is a placeholder (k8s-datastores.test.ts: MongoDB's init refuses them)
    for (const [k, v] of Object.entries({ ...datastores!.stringData } as Record<string, string>))
      if (/PASSWORD/.test(k)) expect(v, k).toMatch(/REPLACE-ME/);
    for (const url of [secret!.stringData.REDIS_URL, secret!.stringData.MONGO_URL]) expect(new URL(url).password).toMatch(/REPLACE-ME/);
  });

  it('the scanner catches literal secrets, keys, tokens and URL credentials (and allows references)', () => {
    const bad = [
      'JWT_SECRET: s3cr3t-value-that-is-long-enough-123456',
      'export JWT_SECRET=abc123abc123abc123abc123abc123abc1',
      '  REDIS_PASSWORD: "hunter2hunter2"',
      'GITHUB_TOKEN=0123456789abcdef',
      '-----BEGIN RSA PRIVATE KEY-----',
      'aws = AKIAIOSFODNN7EXAMPLE',
      '  MONGO_URL: mongodb://aurora:Sup3rS3cret@mongo:27017/aurorachat',
      'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1XzEyMzQ1Njc4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ',
    ];
    for (const line of bad) expect(findSecrets('k8s/x.yaml', line), line).not.toEqual([]);
    const ok = [
      'JWT_SECRET: ${JWT_SECRET:?set JWT_SECRET}',
      '  --from-literal=JWT_SECRET="$(openssl rand -hex 32)"',
      '# kubectl create secret generic x --from-literal=JWT_SECRET=<random>',
      '  MONGO_URL: mongodb://mongo:27017/aurorachat',
      'passwordFromEnv: REDIS_PASSWORD',
      '  ACCESS_TOKEN_TTL_SEC: "900"',
    ];
    for (const line of ok) expect(findSecrets('k8s/x.yaml', line), line).toEqual([]);
    expect(findSecrets('k8s/examples/s.example.yaml', '# EXAMPLE ONLY\nkind: Secret\nstringData:\n  JWT_SECRET: REPLACE-ME')).toEqual([]);
    expect(findSecrets('k8s/s.yaml', 'kind: Secret\nstringData:\n  JWT_SECRET: REPLACE-ME')).not.toEqual([]);
  });
});

describe('kubectl kustomize k8s/base', () => {
  (kubectl ? it : it.skip)(
    kubectl
      ? 'builds offline into exactly the objects of the numbered files, with the images pinned by the kustomization'
      : 'SKIPPED: kubectl is not installed — the kustomization was NOT built',
    () => {
      const r = spawnSync('kubectl', ['kustomize', K8S_DIR], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const built = parseAllDocuments(r.stdout) as unknown as { toJS(): Obj }[];
      const ids = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.name}@${o.metadata.namespace ?? ''}`).sort();
      const builtObjs = built.map((d) => d.toJS()).filter(Boolean);
      expect(ids(builtObjs)).toEqual(ids(k8sObjects().map((o) => o.obj)));
      const tags = Object.fromEntries(kustomization().images.map((i: Obj) => [i.name, i.newTag]));
      for (const o of builtObjs.filter((x) => x.kind === 'Deployment'))
        for (const c of o.spec.template.spec.containers) {
          const [repo, tag] = c.image.split(':');
          expect(tags[repo], c.image).toBe(tag);
        }
    },
  );
});
