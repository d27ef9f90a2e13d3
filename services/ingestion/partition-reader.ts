// New entries of every partition's ingest stream for one consumer of one group. On a single
// node that is one XREADGROUP over all streams, on one connection, exactly as before. On a Redis
// Cluster each stream is its own slot, so it is one XREADGROUP per stream (streamGroups: a
// "lane"); a blocking read holds its connection, so each lane has its own (a duplicate() of the
// reader; lane 0 is the reader itself) and they all block at once: an entry on any partition
// ends the wait, so latency is that of one blocking read, whatever master holds the partition.
//
// A lane's read can come back after read() returned (it was still blocked when another lane
// delivered): those entries are kept, in arrival order, handed out first by the next read(),
// listed by held() so the caller keeps them ours (touches) meanwhile, and returned by close().
// Each lane has at most one read in flight, so entries of one stream come out in stream order.
import type { Redis } from 'ioredis';
import { parseReadReply, streamGroups, type IngestEntry } from './streams.js';

export interface PartitionReaderOptions {
  /** The connection for blocking reads (created with blocking: true); lane 0 reads on it. */
  reader: Redis;
  group: string;
  consumer: string;
  streams: readonly string[];
  partitionOf: Map<string, number>;
}

interface Lane {
  client: Redis;
  streams: string[];
  ids: string[];
  inFlight: Promise<void> | null;
}

export class PartitionReader {
  private readonly lanes: Lane[];
  /** Connections this reader created (lanes past the first); closed by close(). */
  private readonly owned: Redis[] = [];
  private buffer: IngestEntry[] = [];
  /** A lane's read failed while no read() was waiting: thrown by the next read(). */
  private failure: unknown = null;
  /** Wakes the read() waiting for entries, an error or a lane going idle (one read() at a time). */
  private changed: (() => void) | null = null;
  private closed = false;
  /** A lane's connection closed since the last connectionDropped(). */
  private dropped = false;

  constructor(private readonly opts: PartitionReaderOptions) {
    this.lanes = streamGroups(opts.reader, opts.streams).map((streams, i) => {
      let client = opts.reader;
      if (i > 0) {
        client = opts.reader.duplicate();
        // A read's failure reaches read() through its promise; the event itself adds nothing.
        client.on('error', () => {});
        this.owned.push(client);
      }
      client.on('close', () => (this.dropped = true));
      return { client, streams, ids: streams.map(() => '>'), inFlight: null };
    });
  }

  /**
   * True once after any lane's connection closed. A read Redis served just before the drop
   * (killed right after answering, a reset connection) has put its entries in this consumer's
   * pending list although the reply never arrived — the blocking connection re-sends the read
   * after reconnecting, and `>` never returns those entries again. The caller re-reads its own
   * pending entries (ID 0); otherwise they would wait for the idle claim (INGEST_CLAIM_IDLE_MS).
   * On a Redis Cluster a single node's connection closing is not seen here (ioredis keeps it
   * inside the Cluster object): there the idle claim still picks such entries up.
   */
  connectionDropped(): boolean {
    const dropped = this.dropped;
    this.dropped = false;
    return dropped;
  }

  /** How many reads can be in flight at once (1 on a single node, one per stream on a cluster). */
  get laneCount(): number {
    return this.lanes.length;
  }

  /** Entries read but not handed out yet: in hand, to be kept ours like a batch. */
  held(): readonly IngestEntry[] {
    return this.buffer;
  }

  /**
   * New entries: up to `count` per stream (COUNT is per stream, so more than `count` in all).
   * With `blockMs`, waits until some lane delivers or `blockMs` passed, every lane blocked
   * meanwhile; without it, one non-blocking read on every idle lane. Entries kept from earlier
   * reads come back at once.
   */
  async read({ count, blockMs }: { count: number; blockMs?: number }): Promise<IngestEntry[]> {
    this.throwFailure();
    if (this.buffer.length > 0 || this.closed) return this.buffer.splice(0);
    if (blockMs === undefined) {
      await Promise.all(this.lanes.filter((l) => !l.inFlight).map((l) => this.start(l, count)));
      this.throwFailure();
      return this.buffer.splice(0);
    }
    const deadline = Date.now() + blockMs;
    const timer = setTimeout(() => this.changed?.(), blockMs);
    try {
      for (;;) {
        // Checked first: a lane that just delivered must not be sent blocking again (its read
        // would outlive this call and hold the connection past what the caller asked).
        if (this.buffer.length > 0) return this.buffer.splice(0);
        const left = deadline - Date.now();
        if (left <= 0) return [];
        // A lane that came back empty blocks again for what is left of the wait.
        for (const lane of this.lanes) if (!lane.inFlight) void this.start(lane, count, left);
        await new Promise<void>((resolve) => (this.changed = resolve));
        this.changed = null;
        this.throwFailure();
      }
    } finally {
      clearTimeout(timer);
      this.changed = null;
    }
  }

  /**
   * No new reads; waits for the reads in flight (each ends within the BLOCK it was sent with),
   * closes the connections this reader opened, and returns what was read and not handed out.
   */
  async close(): Promise<IngestEntry[]> {
    this.closed = true;
    await Promise.all(this.lanes.map((l) => l.inFlight));
    for (const c of this.owned) c.disconnect();
    return this.buffer.splice(0);
  }

  /** One XREADGROUP on `lane`; settles when its entries (or its error) are recorded. */
  private start(lane: Lane, count: number, blockMs?: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    const { group, consumer, partitionOf } = this.opts;
    const block = blockMs === undefined ? [] : ['BLOCK', Math.max(1, Math.ceil(blockMs))];
    const client = lane.client as unknown as { xreadgroup(...args: (string | number)[]): Promise<unknown> };
    const read = client.xreadgroup('GROUP', group, consumer, 'COUNT', count, ...block, 'STREAMS', ...lane.streams, ...lane.ids);
    lane.inFlight = read
      .then(
        (reply) => {
          this.buffer.push(...parseReadReply(reply, partitionOf, 1));
        },
        (err: unknown) => {
          this.failure ??= err;
        },
      )
      .finally(() => {
        lane.inFlight = null;
        this.changed?.();
      });
    return lane.inFlight;
  }

  private throwFailure(): void {
    if (this.failure === null) return;
    const err = this.failure;
    this.failure = null;
    throw err;
  }
}
