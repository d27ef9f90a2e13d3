// The send path's one Redis round trip: lua/send.lua registered once per client with
// defineCommand (EVALSHA, falling back to EVAL after a Redis restart flushed the script cache),
// sends batched per event-loop turn, and the reply turned into a typed result. See the script
// header for KEYS/ARGV.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { ChatUser } from '../shared/message.js';

const SEND_LUA = readFileSync(new URL('./lua/send.lua', import.meta.url), 'utf8');

export type SendResult =
  | { kind: 'ok'; id: string; ts: number }
  | { kind: 'duplicate'; id: string; ts: number }
  | { kind: 'rate_limited'; retryAfterMs: number }
  | { kind: 'overloaded'; backlog: number };

type SendCommand = (
  k1: string, k2: string, k3: string, k4: string,
  ...argv: (string | number)[]
) => Promise<[string, string | number, number?]>;

/** The `message` frame up to the id: the script appends `"id":"..","ts":..}`. */
export function messageFrameHead(room: string, user: ChatUser, text: string, cid: string): string {
  return `{"type":"message","room":${JSON.stringify(room)},"user":${JSON.stringify({ id: user.id, name: user.name })},"text":${JSON.stringify(text)},"cid":${JSON.stringify(cid)},`;
}

export type SendScript = (room: string, user: ChatUser, text: string, cid: string) => Promise<SendResult>;

type Job = { args: (string | number)[]; resolve: (r: Reply) => void; reject: (e: unknown) => void };
type Reply = [string, string | number, number?];

export function createSendScript(redis: Redis, keys: Keys, config: Config): SendScript {
  redis.defineCommand('auroraSend', { numberOfKeys: 4, lua: SEND_LUA });
  const run = (redis as unknown as { auroraSend: SendCommand }).auroraSend.bind(redis);
  // The sends of one event-loop turn — from every socket — go to Redis as ONE pipeline: one
  // write here and one read in Redis instead of one of each per send. With many sockets each
  // sending a little, that doubled the acked sends/s of a replica at saturation (`npm run bench
  // -- capacity`); at low rates a turn holds one send and it is written as before. Order is
  // kept: a pipeline is written in queue order, and one connection runs commands in order.
  let batch: Job[] = [];
  const flush = () => {
    const jobs = batch;
    batch = [];
    if (jobs.length === 1) {
      const [only] = jobs;
      return void (run as (...a: (string | number)[]) => Promise<Reply>)(...only!.args).then(only!.resolve, only!.reject);
    }
    const pipe = redis.pipeline() as unknown as { auroraSend: (...a: (string | number)[]) => void; exec(): Promise<[Error | null, unknown][] | null> };
    for (const j of jobs) pipe.auroraSend(...j.args);
    pipe.exec().then(
      (results) => jobs.forEach((j, i) => {
        const [err, reply] = results?.[i] ?? [new Error('no reply'), null];
        if (err) j.reject(err);
        else j.resolve(reply as Reply);
      }),
      (err: unknown) => jobs.forEach((j) => j.reject(err)),
    );
  };
  const call = (...args: (string | number)[]) =>
    new Promise<Reply>((resolve, reject) => {
      if (batch.push({ args, resolve, reject }) === 1) setImmediate(flush);
    });
  return async (room, user, text, cid) => {
    const reply = await call(
      keys.sendIdempotency(room, user.id, cid),
      keys.sendRate(room, user.id),
      keys.roomLog(room),
      keys.ingestStreamOfRoom(room),
      keys.roomChannel(room),
      room,
      user.id,
      user.name,
      text,
      cid,
      config.RATE_LIMIT_MESSAGES,
      config.RATE_LIMIT_WINDOW_MS,
      config.IDEMPOTENCY_TTL_SEC,
      config.INGEST_MAX_BACKLOG,
      config.ROOM_LOG_MAXLEN,
      messageFrameHead(room, user, text, cid),
      config.ROOM_LOG_IDLE_TTL_SEC,
    );
    switch (reply[0]) {
      case 'ok':
        return { kind: 'ok', id: String(reply[1]), ts: Number(reply[2]) };
      case 'dup':
        return { kind: 'duplicate', id: String(reply[1]), ts: Number(reply[2]) };
      case 'rate':
        return { kind: 'rate_limited', retryAfterMs: Number(reply[1]) };
      case 'overloaded':
        return { kind: 'overloaded', backlog: Number(reply[1]) };
      default:
        throw new Error(`unexpected send script reply: ${String(reply[0])}`);
    }
  };
}
