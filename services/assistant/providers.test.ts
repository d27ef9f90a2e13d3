// Runs the one provider contract (provider.contract.ts) against both providers: offline in
// process, openai over HTTP against the fake server in model mode (a short pause between chunks,
// so "abort mid-stream" really aborts a stream in flight).
import { createOfflineProvider } from './offline-provider.js';
import { createOpenAIProvider } from './openai-provider.js';
import { providerContract } from './provider.contract.js';
import { startFakeOpenAIServer } from '../../test/helpers/fake-openai-server.js';

providerContract('offline', async () => ({ provider: createOfflineProvider(), close: async () => {} }));

providerContract('openai', async () => {
  const server = await startFakeOpenAIServer({ modelChunkDelayMs: 2 });
  const provider = createOpenAIProvider({ baseURL: server.baseURL, apiKey: 'sk-contract', model: 'fake-model', timeoutMs: 5000, idleTimeoutMs: 2000 });
  return { provider, close: () => server.close() };
});
