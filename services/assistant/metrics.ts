// The assistant's Prometheus metrics, on the registry of the process that runs it (the ingestion
// service by default, or its own): aurora_assistant_* either way, the `service` label says which.
// Nothing here carries a key, a prompt or an answer.
import { Counter, Histogram, type Registry } from 'prom-client';

export function createAssistantMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'aurora_assistant_requests_total',
      help: 'Questions handled, by outcome: done, stopped (by the asker), failed (provider error or timeout), refused (quota), skipped (no access)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    tokens: new Counter({
      name: 'aurora_assistant_tokens_total',
      help: 'Tokens used, as the provider reported them (or estimated at ~4 characters a token), by kind: prompt, completion',
      labelNames: ['kind'] as const,
      registers,
    }),
    firstToken: new Histogram({
      name: 'aurora_assistant_first_token_seconds',
      help: 'From the question reaching the assistant to the first text of its answer',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    }),
    providerErrors: new Counter({
      name: 'aurora_assistant_provider_errors_total',
      help: 'Answers that failed at the provider, by kind: timeout, unavailable, rate_limited, bad_response, auth',
      labelNames: ['kind'] as const,
      registers,
    }),
    toolCalls: new Counter({
      name: 'aurora_assistant_tool_calls_total',
      help: 'Tool calls run for answers',
      registers,
    }),
    quotaRefusals: new Counter({
      name: 'aurora_assistant_quota_refusals_total',
      help: 'Questions refused by the per-user quota, by limit: requests, tokens',
      labelNames: ['limit'] as const,
      registers,
    }),
    loopErrors: new Counter({
      name: 'aurora_assistant_loop_errors_total',
      help: 'Errors of the assistant loop (Redis unreachable), each followed by a backoff',
      registers,
    }),
  };
}

export type AssistantMetrics = ReturnType<typeof createAssistantMetrics>;
