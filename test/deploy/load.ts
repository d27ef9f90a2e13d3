// Loaders shared by the deploy tests: every YAML document in the repo, the k8s/base objects and
// `kubectl kustomize` builds of the overlays,
// docker-compose.yml (with compose's `${VAR:-default}` interpolation), the Dockerfile as a
// list of instructions, nginx.conf as a block tree, and the image names images.sh builds.
// Nothing here needs Docker or a cluster.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = join(import.meta.dirname, '..', '..');
/** The services with an image (Dockerfile target) and a compose service each. */
export const SERVICES = ['users', 'chat', 'ingestion'] as const;
export type Service = (typeof SERVICES)[number];
/**
 * The app's Deployments in k8s/: the services, and the assistant, which runs the ingestion image
 * with its own command (in compose it runs inside ingestion).
 */
export const DEPLOYMENTS = [...SERVICES, 'assistant'] as const;
export type AppDeployment = (typeof DEPLOYMENTS)[number];
/** The contract's ports (services/shared/config.ts DEFAULT_PORT). */
export const SERVICE_PORT: Record<AppDeployment, number> = { users: 4000, chat: 8080, ingestion: 9090, assistant: 9091 };
/** Their admin ports (ADMIN_PORT's default, PORT + 10000): /readyz and /metrics, never routed publicly. */
export const ADMIN_PORT: Record<AppDeployment, number> = { users: 14000, chat: 18080, ingestion: 19090, assistant: 19091 };
export const NAMESPACE = 'aurorachat';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

/** Dependencies and generated output (as .gitignore lists them): not part of the repository. */
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', '.data', 'coverage', 'test-results', '.cache']);

/** Every file under the repo (minus dependencies and generated output) matching `want`. */
export function repoFiles(want: (name: string) => boolean, dir = ROOT): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...repoFiles(want, path));
    else if (want(name)) out.push(path);
  }
  return out.sort();
}

export const rel = (path: string) => relative(ROOT, path);

/** Every YAML file in the repo, including the kustomizations named `Kustomization` (YAML without an extension). */
export function yamlFiles(): string[] {
  return repoFiles((n) => /\.ya?ml$/.test(n) || n === 'Kustomization');
}

/** All documents of a YAML file; throws on any parse error or warning. */
export function parseYamlFile(path: string, opts: { merge?: boolean } = {}): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { merge: opts.merge ?? false });
  if (!Array.isArray(docs)) throw new Error(`${rel(path)}: not a YAML stream`);
  const values: unknown[] = [];
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length) throw new Error(`${rel(path)}: ${problems.map((p) => p.message).join('; ')}`);
    const value = doc.toJS({ maxAliasCount: 1000 });
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

// ---------------------------------------------------------------- Kubernetes

export interface K8sObject {
  file: string;
  obj: Obj;
}

/** The base: what `kubectl apply -k k8s/base` (or `-f k8s/base/`) applies. */
export const K8S_DIR = join(ROOT, 'k8s', 'base');
/** Examples that are never applied (the Secrets' shape, the Gateway API route). */
export const K8S_EXAMPLES = join(ROOT, 'k8s', 'examples');
export const K8S_COMPONENTS = join(ROOT, 'k8s', 'components');
export const K8S_OVERLAYS = join(ROOT, 'k8s', 'overlays');
/** Every overlay the README documents, each `kubectl apply -k k8s/overlays/<name>`. */
export const OVERLAYS = ['autoscale', 'keda', 'external-redis', 'external-mongo', 'redis-cluster'] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** The manifest files `kubectl apply -f k8s/base/` applies: *.yaml|*.yml|*.json directly in it. */
export function k8sApplyFiles(): string[] {
  return readdirSync(K8S_DIR)
    .filter((n) => /\.(ya?ml|json)$/.test(n) && statSync(join(K8S_DIR, n)).isFile())
    .sort();
}

export function k8sObjects(files = k8sApplyFiles().map((n) => join(K8S_DIR, n))): K8sObject[] {
  return files.flatMap((file) => parseYamlFile(file).map((obj) => ({ file: rel(file), obj: obj as Obj })));
}

export function kustomization(dir = K8S_DIR): Obj {
  return parseYamlFile(join(dir, 'Kustomization'))[0] as Obj;
}

/** Whether `kubectl kustomize` can run here (the tests that need it skip loudly without it). */
export const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

/** The objects `kubectl kustomize dir` builds (offline: no cluster is contacted). */
export function kustomizeBuild(dir: string): Obj[] {
  const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (out.status !== 0) throw new Error(`kubectl kustomize ${rel(dir)} failed:\n${out.stderr}`);
  return parseAllDocuments(out.stdout)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

/** The example Secrets: [aurorachat-secrets (the apps'), aurorachat-datastores (Redis, MongoDB, KEDA)]. */
export function exampleSecrets(): { app: Obj; datastores: Obj } {
  const docs = parseYamlFile(join(K8S_EXAMPLES, 'secret.example.yaml')) as Obj[];
  const byName = (n: string) => docs.find((d) => d.metadata?.name === n)!;
  return { app: byName('aurorachat-secrets'), datastores: byName('aurorachat-datastores') };
}

export const find = (objs: K8sObject[], kind: string, name: string): Obj | undefined =>
  objs.find((o) => o.obj.kind === kind && o.obj.metadata?.name === name)?.obj;

export function podContainers(workload: Obj): Obj[] {
  return workload.spec?.template?.spec?.containers ?? [];
}

/** The first (for our workloads: the only) container of a pod template. */
export function mainContainer(workload: Obj): Obj {
  const c = podContainers(workload)[0];
  if (!c) throw new Error(`${workload.kind}/${workload.metadata?.name} has no container`);
  return c;
}

/**
 * The environment a container sees, as the kubelet assembles it (envFrom in order, then env),
 * with `secretData` as the Secret aurorachat-secrets (k8s/examples/secret.example.yaml names it)
 * and `podName` for fieldRef metadata.name.
 */
export function podEnv(objs: K8sObject[], container: Obj, secretData: Record<string, string>, podName: string): Record<string, string> {
  const secretName = exampleSecrets().app.metadata.name;
  const configMap = (name: string) => {
    const cm = find(objs, 'ConfigMap', name);
    if (!cm) throw new Error(`the pod names a missing ConfigMap ${name}`);
    return cm.data as Record<string, string>;
  };
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, configMap(from.configMapRef.name));
    if (from.secretRef) {
      if (from.secretRef.name !== secretName) throw new Error(`unknown Secret ${from.secretRef.name}`);
      Object.assign(env, secretData);
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = podName;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = secretData[e.valueFrom.secretKeyRef.key]!;
    else if (e.valueFrom?.configMapKeyRef) env[e.name] = configMap(e.valueFrom.configMapKeyRef.name)[e.valueFrom.configMapKeyRef.key]!;
    else throw new Error(`env ${e.name}: unsupported source`);
  }
  return env;
}

/** The repository part of an image reference: `ghcr.io/a/aurorachat-chat:1.0` -> `aurorachat-chat`. */
export function imageRepo(image: string): string {
  const noDigest = image.split('@')[0]!;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const noTag = colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
  return noTag.slice(lastSlash + 1);
}

/** The tag of an image reference, '' when it has none: `ghcr.io/a/chat:1.0@sha256:…` -> `1.0`. */
export function imageTag(image: string): string {
  const noDigest = image.split('@')[0]!;
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(colon + 1) : '';
}

// ---------------------------------------------------------------- images.sh

/** The image references images.sh builds, from its --dry-run output (the script is the truth). */
export function imagesShBuilds(tag = 'test-tag', env: Record<string, string> = {}): string[] {
  const out = execFileSync('bash', [join(ROOT, 'images.sh'), '--dry-run', tag], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out
    .split('\n')
    .filter((l) => l.startsWith('docker build'))
    .map((l) => {
      const m = /--tag (\S+)/.exec(l);
      if (!m) throw new Error(`images.sh printed a build without --tag: ${l}`);
      return m[1]!;
    });
}

// ---------------------------------------------------------------- docker-compose.yml

export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');

export function composeFile(): Obj {
  return parseYamlFile(COMPOSE_FILE, { merge: true })[0] as Obj;
}

/**
 * Compose's interpolation for the forms this repo uses: ${VAR}, ${VAR:-default}, ${VAR-default},
 * ${VAR:?error}, ${VAR?error}, $$. A required variable that is unset throws, as compose does.
 */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (whole, name, op, arg) => {
    if (whole === '$$') return '$';
    const v = env[name as string];
    const unset = v === undefined || (op?.startsWith(':') && v === '');
    if (!op) return v ?? '';
    if (op.endsWith('-')) return unset ? (arg as string) : v!;
    if (unset) throw new Error(`required variable ${name as string} is missing a value: ${arg as string}`);
    return v!;
  });
}

// ---------------------------------------------------------------- Dockerfile

export interface Instruction {
  line: number;
  cmd: string;
  args: string;
  stage: string;
}

/** Dockerfile instructions (continuations joined, comments dropped), each with its stage name. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  let stage = '';
  let stageIndex = -1;
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue; // comment lines inside a continuation are dropped
      line = line.replace(/\\\s*$/, ' ') + next;
    }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot parse "${line}"`);
    const cmd = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (cmd === 'FROM') {
      stageIndex++;
      const as = /\bAS\s+(\S+)/i.exec(args);
      stage = as ? as[1]! : String(stageIndex);
    }
    out.push({ line: start + 1, cmd, args, stage });
  }
  return out;
}

/** JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, or null for shell form. */
export function execForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  const parsed: unknown = JSON.parse(args);
  return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : null;
}

/** A minimal .dockerignore matcher for the patterns this repo uses (*, **, leading dirs, !). */
export function dockerIgnored(path: string, patterns: string[]): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const re = new RegExp(
      '^' +
        pattern
          .split('/')
          .map((seg) =>
            seg === '**'
              ? '.*'
              : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'),
          )
          .join('/')
          .replace(/\.\*\//g, '(?:.*/)?') +
        '(?:/.*)?$',
    );
    if (re.test(path)) ignored = !negate;
  }
  return ignored;
}

export function dockerignorePatterns(): string[] {
  const file = join(ROOT, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

// ---------------------------------------------------------------- nginx.conf

export interface NginxBlock {
  name: string;
  args: string[];
  children: NginxBlock[];
  /** Leaf directives: name + args. */
  directives: { name: string; args: string[] }[];
}

/** nginx config as a tree of blocks (enough for upstream/server/location checks). */
export function parseNginx(text: string): NginxBlock {
  const tokens: string[] = [];
  const re = /#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#]+)/g;
  for (const m of text.matchAll(re)) {
    if (m[0].startsWith('#')) continue;
    tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4] ?? '');
  }
  const root: NginxBlock = { name: 'main', args: [], children: [], directives: [] };
  const stack = [root];
  let words: string[] = [];
  for (const t of tokens) {
    if (t === ';') {
      if (words.length) stack.at(-1)!.directives.push({ name: words[0]!, args: words.slice(1) });
      words = [];
    } else if (t === '{') {
      const block: NginxBlock = { name: words[0] ?? '', args: words.slice(1), children: [], directives: [] };
      stack.at(-1)!.children.push(block);
      stack.push(block);
      words = [];
    } else if (t === '}') {
      if (words.length) throw new Error(`nginx: directive without ';' before '}': ${words.join(' ')}`);
      if (stack.length === 1) throw new Error('nginx: unbalanced }');
      stack.pop();
    } else words.push(t);
  }
  if (stack.length !== 1 || words.length) throw new Error('nginx: unterminated block or directive');
  return root;
}

export function nginxBlocks(block: NginxBlock, name: string): NginxBlock[] {
  return block.children.flatMap((c) => [...(c.name === name ? [c] : []), ...nginxBlocks(c, name)]);
}

export function directive(block: NginxBlock, name: string): string[][] {
  return block.directives.filter((d) => d.name === name).map((d) => d.args);
}

/** Seconds in an nginx time value ("3600s", "1h", "60"). */
export function nginxSeconds(v: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v);
  if (!m) throw new Error(`not an nginx time: ${v}`);
  const n = Number(m[1]);
  return { ms: n / 1000, s: n, m: n * 60, h: n * 3600, d: n * 86400 }[m[2] ?? 's']!;
}
