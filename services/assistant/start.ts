// Puts the assistant together for a process that runs it: the ingestion service (ASSISTANT_ENABLED,
// the default) or its own service (main.ts, the k8s Deployment `assistant`). Three Redis
// connections: commands, the blocking stream reader, and the stop subscriber.
import type { Registry } from 'prom-client';
import type { Config } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { closeRedis, createRedis } from '../shared/redis.js';
import type { Store } from '../shared/store/store.js';
import { ensureAssistantUser } from './identity.js';
import { createJobs } from './jobs.js';
import { createAssistantMetrics } from './metrics.js';
import { createOfflineProvider } from './offline-provider.js';
import { createOpenAIProvider } from './openai-provider.js';
import type { AssistantProvider } from './provider.js';
import { createQuota } from './quota.js';
import { listenForStops } from './stops.js';
import { createDefaultTools } from './tools.js';
import { AssistantWorker } from './worker.js';
import { createWriter } from './writer.js';

/** The offline provider's pace: its answers stream like a model's (and can be stopped). */
const OFFLINE_CHUNK_DELAY_MS = 30;

export function createProvider(config: Config): AssistantProvider {
  if (config.ASSISTANT_PROVIDER === 'offline') return createOfflineProvider({ chunkDelayMs: OFFLINE_CHUNK_DELAY_MS });
  return createOpenAIProvider({
    baseURL: config.ASSISTANT_BASE_URL,
    apiKey: config.ASSISTANT_API_KEY ?? '',
    model: config.ASSISTANT_MODEL,
    timeoutMs: config.ASSISTANT_TIMEOUT_MS,
    idleTimeoutMs: config.ASSISTANT_IDLE_TIMEOUT_MS,
  });
}

export interface RunningAssistant {
  worker: AssistantWorker;
  stop(): Promise<void>;
}

export async function startAssistant(deps: { config: Config; log: Logger; store: Store; registry: Registry }): Promise<RunningAssistant> {
  const { config, store, registry } = deps;
  const log = deps.log.child({ component: 'assistant' });
  const keys = keysFor(config.PARTITIONS);
  const redis = createRedis(config, log, { role: 'assistant' });
  const reader = createRedis(config, log, { role: 'assistant-reader', blocking: true });
  const subscriber = createRedis(config, log, { role: 'assistant-stops', blocking: true });
  try {
    const assistant = await ensureAssistantUser(store, log);
    const metrics = createAssistantMetrics(registry);
    const stops = await listenForStops(subscriber, keys, log);
    const worker = new AssistantWorker({
      config,
      log,
      redis,
      reader,
      keys,
      metrics,
      assistantId: assistant.id,
      responder: {
        config,
        log,
        redis,
        keys,
        assistant,
        provider: createProvider(config),
        tools: createDefaultTools({ store }),
        writer: createWriter(redis, keys, config, assistant),
        jobs: createJobs(redis, keys),
        quota: createQuota(redis, keys, config),
        stops,
        metrics,
      },
    });
    worker.start();
    log.info({ provider: config.ASSISTANT_PROVIDER, model: config.ASSISTANT_PROVIDER === 'openai' ? config.ASSISTANT_MODEL : undefined }, 'assistant started');
    return {
      worker,
      async stop() {
        await worker.stop();
        await stops.close();
        await Promise.all([closeRedis(reader), closeRedis(subscriber), closeRedis(redis)]);
      },
    };
  } catch (err) {
    await Promise.all([closeRedis(reader), closeRedis(subscriber), closeRedis(redis)]);
    throw err;
  }
}
