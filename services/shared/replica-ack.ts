// Acks that survive a Redis failover (REDIS_ACK_REPLICAS=n). Redis replicates asynchronously: a
// script's write acked to the client can die with its master before any replica has it, and the
// promoted replica never heard of the message. With n > 0 every write script (send, event,
// member) is followed by `WAIT n timeout` on the SAME connection — WAIT covers the writes that
// connection made before it — and its reply is released only when n replicas confirmed; fewer
// in time is a ReplicaAckError (a retryable refusal: the client re-sends with the same cid, the
// script answers `dup`, and that answer waits for the replicas again). Never a false ack.
//
// WAIT blocks its connection until the replicas answer, so one per script would serialise the
// writes of a busy replica behind one replication round trip each. Instead the calls of one
// event-loop turn are grouped (group commit): one pipeline per group — every script of the turn,
// then ONE WAIT — so a turn costs one round trip to the replicas however many writes it holds.
// On a Cluster a pipeline must stay on one master: the group is the partition (its hash tag, so
// every key of its scripts is on the same master), and the WAIT travels in the pipeline to the
// master that took the writes (TOOLCHAIN.md: a bare cluster.wait() goes to a random one).
//
// Live delivery waits too: a frame published by the script before the WAIT would reach the
// members even when its message then dies with the master (they would hold a message the store
// never gets, and their resume point would vanish). So with n > 0 the send, event and member scripts do
// not publish; they return their frames, and the group's frames are published in one more
// pipeline once the WAIT confirmed — acked and live both mean "on n replicas". One round trip
// more per turn on this path.
import type { ChainableCommander, Redis } from 'ioredis';

export class ReplicaAckError extends Error {
  constructor(
    readonly confirmed: number,
    readonly wanted: number,
    timeoutMs: number,
  ) {
    super(`${confirmed} of ${wanted} Redis replica(s) confirmed the write within ${timeoutMs} ms`);
    this.name = 'ReplicaAckError';
  }
}

export interface ReplicaAckOptions {
  /** REDIS_ACK_REPLICAS: 0 = reply as soon as the master has it. */
  replicas: number;
  /** REDIS_ACK_TIMEOUT_MS: the WAIT's timeout. */
  timeoutMs: number;
}

/** What a write publishes once confirmed: [channel, frame, sharded (SPUBLISH) or classic]. */
export type Publication = [channel: string, frame: string, sharded: boolean];

interface Pending {
  issue: (pipe: ChainableCommander) => void;
  publish?: ((reply: unknown) => Publication[] | Promise<Publication[]>) | undefined;
  resolve: (reply: unknown) => void;
  reject: (err: Error) => void;
}

/** One turn's write scripts, grouped, each group sent as scripts + WAIT. */
class ReplicaAcks {
  private groups = new Map<number, Pending[]>();
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly opts: ReplicaAckOptions,
  ) {}

  run(group: number, issue: (pipe: ChainableCommander) => void, publish?: (reply: unknown) => Publication[] | Promise<Publication[]>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      // A single node takes every group on its one connection: one pipeline, one WAIT.
      const key = this.redis.isCluster ? group : 0;
      let pending = this.groups.get(key);
      if (!pending) this.groups.set(key, (pending = []));
      pending.push({ issue, publish, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const groups = this.groups;
    this.groups = new Map();
    for (const pending of groups.values()) void this.send(pending);
  }

  private async send(pending: Pending[]): Promise<void> {
    const { replicas, timeoutMs } = this.opts;
    let replies: [Error | null, unknown][];
    try {
      const pipe = this.redis.pipeline();
      for (const p of pending) p.issue(pipe);
      pipe.wait(replicas, timeoutMs);
      replies = (await pipe.exec()) ?? [];
    } catch (err) {
      for (const p of pending) p.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const [waitErr, confirmed] = replies[pending.length] ?? [new Error('no WAIT reply'), 0];
    const shortfall = waitErr ?? (Number(confirmed) < replicas ? new ReplicaAckError(Number(confirmed), replicas, timeoutMs) : null);
    const unpublished = shortfall ? null : await this.publish(pending, replies);
    pending.forEach((p, i) => {
      const [err, reply] = replies[i] ?? [new Error('no reply'), null];
      // A refusal (rate limit, no access…) wrote nothing worth waiting for, but one reply per
      // group keeps this simple: a shortfall fails the whole group, and each retry is idempotent.
      if (err) p.reject(err);
      else if (shortfall) p.reject(shortfall);
      else if (unpublished && p.publish) p.reject(unpublished);
      else p.resolve(reply);
    });
  }

  /**
   * The confirmed writes' frames, in write order, in one pipeline (on a Cluster the group's master:
   * room channels share the partition's slot). A failed publish (Redis lost right then) is
   * returned: those writes answer an error, not an ack — the message is on the replicas, and
   * its retry answers `dup`, whose frame is published again (send-script.ts: from the log), so
   * an ack always follows a publish; members who got both dedupe by id.
   */
  private async publish(pending: Pending[], replies: [Error | null, unknown][]): Promise<Error | null> {
    let publications: Publication[];
    try {
      const lists = await Promise.all(
        pending.map((p, i) => {
          const [err, reply] = replies[i] ?? [new Error('no reply'), null];
          return err || !p.publish ? [] : p.publish(reply);
        }),
      );
      publications = lists.flat();
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
    if (publications.length === 0) return null;
    const pipe = this.redis.pipeline();
    for (const [channel, frame, sharded] of publications) {
      if (sharded) pipe.spublish(channel, frame);
      else pipe.publish(channel, frame);
    }
    try {
      const results = (await pipe.exec()) ?? [];
      const failed = results.find(([err]) => err);
      return failed ? (failed[0] as Error) : null;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }
}

const perClient = new WeakMap<Redis, ReplicaAcks>();

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/**
 * How the write script `command` (defineCommand'd on `redis`) is called: at once when acks need
 * no replica (today's path; `beforeCall` is scripts.ts's corkPerTurn), else queued into the
 * client's turn batch for `group` — the partition of the script's keys — and answered after the
 * WAIT (ioredis defines defineCommand'd scripts on pipelines too) and after the frames the call's
 * `publish(reply)` names went out. The batch is per client: the options of its first caller hold for all.
 */
export function scriptCaller<R>(
  redis: Redis,
  command: string,
  opts: ReplicaAckOptions,
  beforeCall?: () => void,
): (group: number, args: (string | number)[], publish?: (reply: R) => Publication[] | Promise<Publication[]>) => Promise<R> {
  if (opts.replicas <= 0) {
    const run = (redis as unknown as Record<string, ScriptFn>)[command]!.bind(redis);
    return (_group, args) => {
      beforeCall?.();
      return run(...args) as Promise<R>;
    };
  }
  let acks = perClient.get(redis);
  if (!acks) perClient.set(redis, (acks = new ReplicaAcks(redis, opts)));
  const batch = acks;
  return (group, args, publish) =>
    batch.run(group, (pipe) => (pipe as unknown as Record<string, ScriptFn>)[command]!(...args), publish as ((reply: unknown) => Publication[] | Promise<Publication[]>) | undefined) as Promise<R>;
}

/** The config's two settings as ReplicaAckOptions. */
export function replicaAckOptions(config: { REDIS_ACK_REPLICAS: number; REDIS_ACK_TIMEOUT_MS: number }): ReplicaAckOptions {
  return { replicas: config.REDIS_ACK_REPLICAS, timeoutMs: config.REDIS_ACK_TIMEOUT_MS };
}

/**
 * Logs loudly when a master has fewer replicas connected than REDIS_ACK_REPLICAS asks for: every
 * write would then time out and be refused. A warning, not a refusal to start — replicas may be
 * resyncing, and the refusals say the same to clients.
 */
export async function warnIfTooFewReplicas(redis: Redis, replicas: number, log: { warn: (o: object, m: string) => void }): Promise<void> {
  if (replicas <= 0) return;
  const masters: Redis[] = redis.isCluster ? (redis as unknown as { nodes(role: 'master'): Redis[] }).nodes('master') : [redis];
  for (const node of masters) {
    try {
      const info = await node.info('replication');
      const connected = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
      if (connected < replicas) log.warn({ node: `${node.options.host}:${node.options.port}`, connected, REDIS_ACK_REPLICAS: replicas }, 'a Redis master has fewer replicas than REDIS_ACK_REPLICAS: its writes will be refused until they connect');
    } catch {
      /* unreachable now: its writes fail on their own */
    }
  }
}
