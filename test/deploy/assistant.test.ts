// Deploying the assistant (issue 17), checked without Docker or a cluster: in Kubernetes its own
// Deployment runs services/assistant/main.js from the ingestion image while ingestion runs with
// ASSISTANT_ENABLED=false; its settings are the code's defaults in the ConfigMap, its API key only
// in the Secret; alerts cover its failure modes. In compose it runs inside ingestion, every
// ASSISTANT_* settable from the operator's shell. (k8s.test.ts checks the Deployment like the
// others: schema, probes, security, grace period, Service.)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig, type Config } from '../../services/shared/config.js';
import {
  K8S_EXAMPLES,
  ROOT,
  ADMIN_PORT,
  SERVICE_PORT,
  composeFile,
  execForm,
  find,
  imageRepo,
  imagesShBuilds,
  interpolate,
  k8sObjects,
  mainContainer,
  parseDockerfile,
  podEnv,
  type Obj,
} from './load.js';

const objects = k8sObjects();
const configMap = find(objects, 'ConfigMap', 'aurorachat-config')!;
const assistant = find(objects, 'Deployment', 'assistant')!;
const ingestion = find(objects, 'Deployment', 'ingestion')!;
const ASSISTANT_VARS = CONFIG_VARIABLES.filter((k) => k.startsWith('ASSISTANT_'));
/** The per-Deployment switch and the secret: never in the shared ConfigMap. */
const NOT_IN_CONFIGMAP = ['ASSISTANT_ENABLED', 'ASSISTANT_API_KEY'];
const pick = (c: Config) => Object.fromEntries(ASSISTANT_VARS.map((k) => [k, c[k]]));

describe('k8s: the assistant as its own Deployment', () => {
  it('runs services/assistant/main.js from the ingestion image (the image ingestion pins), two replicas', () => {
    const c = mainContainer(assistant);
    expect(c.command).toEqual(['node', 'dist/services/assistant/main.js']);
    // The command is the ingestion image's CMD with the assistant's entry point, and the build
    // compiles that entry point into every image's dist/.
    const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const cmd = execForm(dockerfile.filter((i) => i.stage === 'ingestion' && i.cmd === 'CMD').at(-1)!.args)!;
    expect(cmd.map((a) => a.replace('/ingestion/', '/assistant/'))).toEqual(c.command);
    expect(existsSync(join(ROOT, 'services', 'assistant', 'main.ts'))).toBe(true);
    const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8'));
    expect(build.include).toContain('services/**/*.ts');
    expect(imageRepo(c.image)).toBe('aurorachat-ingestion');
    expect(c.image).toBe(mainContainer(ingestion).image);
    expect(imagesShBuilds().map(imageRepo)).toContain(imageRepo(c.image));
    expect(assistant.spec.replicas).toBe(2);
  });

  it('each pod is its own consumer in the group (pod name), on port 9091, with the default offline provider', () => {
    const c = mainContainer(assistant);
    expect(c.env.find((e: Obj) => e.name === 'INGEST_CONSUMER')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    const config = loadConfig('assistant', podEnv(objects, c, {}, 'assistant-5c7d-xk2p9'));
    expect(config.INGEST_CONSUMER).toBe('assistant-5c7d-xk2p9');
    expect(config.port).toBe(SERVICE_PORT.assistant);
    expect(config.ASSISTANT_PROVIDER).toBe('offline');
    // Scraped where it serves /metrics: the admin port.
    expect(config.adminPort).toBe(ADMIN_PORT.assistant);
    const a = assistant.spec.template.metadata.annotations;
    expect(a['prometheus.io/scrape']).toBe('true');
    expect(Number(a['prometheus.io/port'])).toBe(ADMIN_PORT.assistant);
  });

  it('ingestion runs without the assistant: ASSISTANT_ENABLED=false in its Deployment, the ConfigMap alone would run it', () => {
    const c = mainContainer(ingestion);
    expect(c.env.find((e: Obj) => e.name === 'ASSISTANT_ENABLED')?.value).toBe('false');
    expect(loadConfig('ingestion', podEnv(objects, c, {}, 'ingestion-1')).ASSISTANT_ENABLED).toBe(false);
    const withoutEnv = { ...c, env: c.env.filter((e: Obj) => e.name !== 'ASSISTANT_ENABLED') };
    expect(loadConfig('ingestion', podEnv(objects, withoutEnv, {}, 'ingestion-1')).ASSISTANT_ENABLED).toBe(true);
    // The assistant's own process does not read the switch: setting it there would only mislead.
    expect(mainContainer(assistant).env.map((e: Obj) => e.name)).not.toContain('ASSISTANT_ENABLED');
  });

  it('the ConfigMap holds every other ASSISTANT_* variable at the code default', () => {
    const keys = Object.keys(configMap.data).filter((k) => k.startsWith('ASSISTANT_')).sort();
    expect(keys).toEqual(ASSISTANT_VARS.filter((k) => !NOT_IN_CONFIGMAP.includes(k)).sort());
    expect(pick(loadConfig('assistant', configMap.data))).toEqual(pick(loadConfig('assistant', {})));
  });

  it('the API key comes from the Secret only: the example says how, no manifest holds it', () => {
    const example = readFileSync(join(K8S_EXAMPLES, 'secret.example.yaml'), 'utf8');
    expect(example).toMatch(/^#\s+--from-literal=ASSISTANT_API_KEY='<[^>]+>'/m);
    // No ConfigMap key, and no container env entry but a reference to the Secret.
    for (const { file, obj } of objects) {
      if (obj.kind === 'ConfigMap') expect(Object.keys(obj.data ?? {}), file).not.toContain('ASSISTANT_API_KEY');
      for (const ct of obj.spec?.template?.spec?.containers ?? [])
        for (const e of (ct.env ?? []).filter((x: Obj) => x.name === 'ASSISTANT_API_KEY'))
          expect(e.valueFrom?.secretKeyRef?.name, `${file} ${ct.name}`).toBe('aurorachat-secrets');
    }
    const c = mainContainer(assistant);
    expect(c.envFrom.map((f: Obj) => f.secretRef?.name)).toContain('aurorachat-secrets');
    const config = loadConfig('assistant', podEnv(objects, c, { ASSISTANT_API_KEY: 'sk-from-the-secret' }, 'p'));
    expect(config.ASSISTANT_API_KEY).toBe('sk-from-the-secret');
    expect(loadConfig('assistant', podEnv(objects, c, {}, 'p')).ASSISTANT_API_KEY).toBeUndefined();
  });

  it('alerts on provider errors, a refused key and a failing loop', () => {
    const rule = find(objects, 'PrometheusRule', 'aurorachat')!;
    const group = rule.spec.groups.find((g: Obj) => g.name === 'aurorachat-assistant');
    expect(group, 'a rule group for the assistant').toBeDefined();
    const exprs: string[] = group.rules.map((r: Obj) => r.expr.trim());
    // A share of the requests (no alert without questions), an auth error at once, loop errors.
    expect(exprs.some((e) => /aurora_assistant_provider_errors_total/.test(e) && /aurora_assistant_requests_total/.test(e))).toBe(true);
    expect(exprs.some((e) => /aurora_assistant_provider_errors_total\{kind="auth"\}/.test(e))).toBe(true);
    expect(exprs.some((e) => /aurora_assistant_loop_errors_total/.test(e))).toBe(true);
  });
});

describe('docker-compose.yml: the assistant inside ingestion', () => {
  const compose = composeFile();
  const host = { JWT_SECRET: 'c'.repeat(40) };
  const env = (svc: string, shell: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(compose.services[svc].environment as Record<string, unknown>).map(([k, v]) => [k, interpolate(String(v ?? ''), shell)]),
    );

  it('has no assistant service: each ingestion container runs it, and may reach a model server on the host', () => {
    expect(Object.keys(compose.services)).not.toContain('assistant');
    expect(loadConfig('ingestion', env('ingestion', host)).ASSISTANT_ENABLED).toBe(true);
    expect(compose.services.ingestion.extra_hosts).toContain('host.docker.internal:host-gateway');
  });

  it('takes every ASSISTANT_* from the shell as ${VAR:-default}, the defaults being the code defaults', () => {
    for (const k of ASSISTANT_VARS) expect(String(compose.services.ingestion.environment[k]), k).toMatch(new RegExp(`^\\$\\{${k}:-[^}]*\\}$`));
    expect(pick(loadConfig('ingestion', env('ingestion', host)))).toEqual(pick(loadConfig('ingestion', {})));
  });

  it('a provider, endpoint, model and key set in the shell reach the process', () => {
    const shell = {
      ...host,
      ASSISTANT_PROVIDER: 'openai',
      ASSISTANT_BASE_URL: 'http://host.docker.internal:11434/v1',
      ASSISTANT_MODEL: 'llama3.2',
      ASSISTANT_API_KEY: 'sk-from-the-shell',
      ASSISTANT_CONCURRENCY: '3',
    };
    const config = loadConfig('ingestion', env('ingestion', shell));
    expect(config).toMatchObject({
      ASSISTANT_PROVIDER: 'openai',
      ASSISTANT_BASE_URL: 'http://host.docker.internal:11434/v1',
      ASSISTANT_MODEL: 'llama3.2',
      ASSISTANT_API_KEY: 'sk-from-the-shell',
      ASSISTANT_CONCURRENCY: 3,
    });
    expect(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')).not.toContain('sk-');
  });
});
