// The ingestion worker's Prometheus metrics. Counters and histograms move in the worker loop;
// the stream gauges (lag, pending, length) are refreshed by the trimmer from XINFO GROUPS,
// which it reads anyway.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createIngestMetrics(registry: Registry) {
  const registers = [registry];
  return {
    batchSize: new Histogram({
      name: 'aurora_ingestion_batch_size',
      help: 'Entries per processed batch',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000],
      registers,
    }),
    insertSeconds: new Histogram({
      name: 'aurora_ingestion_insert_seconds',
      help: 'Duration of one successful store.insertMessages call',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    applySeconds: new Histogram({
      name: 'aurora_ingestion_apply_seconds',
      help: 'Duration of one successful store.applyEvents call (edits, deletes, reactions)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    persistLagSeconds: new Histogram({
      name: 'aurora_ingestion_persist_lag_seconds',
      help: 'Time from an entry id (its send time) to its storage, per newly stored message or newly applied event',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    inserted: new Counter({ name: 'aurora_ingestion_messages_inserted_total', help: 'Messages newly stored', registers }),
    duplicates: new Counter({
      name: 'aurora_ingestion_messages_duplicate_total',
      help: 'Redelivered messages the store already held (recognised by room + id)',
      registers,
    }),
    eventsApplied: new Counter({
      name: 'aurora_ingestion_events_applied_total',
      help: 'Room events (edit, delete, react) newly applied to the store',
      registers,
    }),
    eventDuplicates: new Counter({
      name: 'aurora_ingestion_events_duplicate_total',
      help: 'Redelivered room events the store already held (recognised by room + event id): nothing changed',
      registers,
    }),
    eventsStored: new Counter({
      name: 'aurora_ingestion_events_stored_total',
      help: 'Room events the store took, newly applied or already held, per kind: edit, delete, react, and member/room for membership and room changes',
      labelNames: ['kind'] as const,
      registers,
    }),
    readsStored: new Counter({
      name: 'aurora_ingestion_reads_stored_total',
      help: 'Read positions (read.lua) written to the store: the furthest per (room, user) of each batch',
      registers,
    }),
    membershipsStored: new Counter({
      name: 'aurora_ingestion_memberships_stored_total',
      help: 'Membership and room changes (membership.ts) the store took: result="applied" newly applied, result="duplicate" already held (redelivery, nothing changed)',
      labelNames: ['result'] as const,
      registers,
    }),
    deadLettered: new Counter({
      name: 'aurora_ingestion_dead_lettered_total',
      help: 'Entries moved to the dead-letter stream',
      labelNames: ['kind'] as const,
      registers,
    }),
    idConflicts: new Counter({
      name: 'aurora_ingestion_id_conflicts_total',
      help: 'Messages (or events) dead-lettered because a DIFFERENT one holds their (room, id): Redis reused an id after losing the tail of a room log',
      registers,
    }),
    deadLetterEntries: new Gauge({
      name: 'aurora_ingestion_dead_letter_entries',
      help: 'Entries held by the dead-letter streams (never trimmed: re-drive or export them; alert when > 0)',
      registers,
    }),
    claimed: new Counter({
      name: 'aurora_ingestion_claimed_total',
      help: 'Entries taken over from idle consumers with XAUTOCLAIM',
      registers,
    }),
    storeFailures: new Counter({
      name: 'aurora_ingestion_store_failures_total',
      help: 'Failed store writes of messages or events (the batch is retried with backoff, not acked)',
      registers,
    }),
    loopErrors: new Counter({
      name: 'aurora_ingestion_loop_errors_total',
      help: 'Errors in the read/ack loop (Redis unreachable, ...), retried with backoff',
      registers,
    }),
    consumersRemoved: new Counter({
      name: 'aurora_ingestion_consumers_removed_total',
      help: 'Idle consumers with nothing pending removed from the group',
      registers,
    }),
    lag: new Gauge({
      name: 'aurora_ingestion_consumer_lag',
      help: 'Entries in the stream not yet delivered to the group (XINFO GROUPS lag)',
      labelNames: ['stream'] as const,
      registers,
    }),
    pending: new Gauge({
      name: 'aurora_ingestion_pending',
      help: 'Entries delivered to the group but not yet acknowledged (XINFO GROUPS pending)',
      labelNames: ['stream'] as const,
      registers,
    }),
    streamLength: new Gauge({
      name: 'aurora_ingestion_stream_length',
      help: 'Entries held by the ingest stream after trimming (XLEN)',
      labelNames: ['stream'] as const,
      registers,
    }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;

/** Coarse dead-letter reasons for the metric label (the stream entry keeps the full text). */
export type DeadLetterKind = 'invalid' | 'max_deliveries' | 'deleted' | 'rejected' | 'id_conflict';
