// The notify worker's Prometheus metrics, on the registry of the process that runs it (the
// ingestion service). Named aurora_notify_*, after the component (its own consumer group), not
// the process: the `service` label says which process reports them. The lag gauge is set by the ingestion trimmer, which reads XINFO GROUPS
// for every group anyway; entries the trimmer removed before this group read them are counted
// here too (reason="trimmed"), so every lost notification shows up in one place.
import { Counter, Gauge, type Registry } from 'prom-client';

export function createNotifyMetrics(registry: Registry) {
  const registers = [registry];
  return {
    notifications: new Counter({
      name: 'aurora_notify_notifications_total',
      help: 'Notifications newly stored in inboxes (redeliveries excluded), per kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    pushed: new Counter({
      name: 'aurora_notify_pushed_total',
      help: 'notify frames published to user channels (new notifications of users not in DND)',
      registers,
    }),
    entries: new Counter({
      name: 'aurora_notify_entries_total',
      help: 'Ingest entries the notify group processed and acked (every kind: messages, events, read marks)',
      registers,
    }),
    skipped: new Counter({
      name: 'aurora_notify_entries_skipped_total',
      help: 'Ingest entries acked without being looked at: poison (unparseable), trimmed (gone from the stream before the group read it: NOTIFY_MAX_LAG), rejected (the store refused them alone)',
      labelNames: ['reason'] as const,
      registers,
    }),
    dropped: new Counter({
      name: 'aurora_notify_targets_dropped_total',
      help: 'Users an entry would have notified but did not: unknown_user, not_member, muted',
      labelNames: ['reason'] as const,
      registers,
    }),
    lag: new Gauge({
      name: 'aurora_notify_lag',
      help: 'Entries of an ingest stream not yet delivered to the notify group (XINFO GROUPS lag)',
      labelNames: ['stream'] as const,
      registers,
    }),
    loopErrors: new Counter({
      name: 'aurora_notify_loop_errors_total',
      help: 'Errors of the notify loop (Redis unreachable, store down), each followed by a backoff',
      registers,
    }),
  };
}

export type NotifyMetrics = ReturnType<typeof createNotifyMetrics>;
