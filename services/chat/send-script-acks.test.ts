// REDIS_ACK_REPLICAS through the real send and event scripts, against a real master and (later)
// its real replica: a change is acked AND published only once a replica holds it. Without a
// replica nothing is acked and nothing goes live (members never see a message the store might
// never get); with one, the frames published after the WAIT are the ones the script built —
// byte for byte what the log rebuilds — a retry answered `dup` is published again (an ack always
// follows a publish), and a DM's first message still reaches the peer's channel.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/ports.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { loadConfig } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { ReplicaAckError } from '../shared/replica-ack.js';
import { dmRoomName, newMembersOnlyRoom } from '../shared/rooms.js';
import { createEventScript } from './event-script.js';
import { logEntryFrame } from './frames.js';
import { createMemberScript } from '../shared/member-script.js';
import { createSendScript } from './send-script.js';

const keys = keysFor(4);
// Without a replica the WAIT must time out: a short one. With a replica it must succeed, and
// its timeout only bounds a failure: long, since on a loaded 2-core box a replica can take more
// than 150 ms to answer the GETACK (both replica tests failed that way once in a full run).
const config = loadConfig('chat', { PARTITIONS: '4', REDIS_ACK_REPLICAS: '1', REDIS_ACK_TIMEOUT_MS: '150' });
const patient = loadConfig('chat', { PARTITIONS: '4', REDIS_ACK_REPLICAS: '1', REDIS_ACK_TIMEOUT_MS: '5000' });
const ann = { id: 'ann', name: 'Ann' };
const bob = { id: 'bob', name: 'Bob' };

let master: TestRedis;
let replica: TestRedis | undefined;
let r: Redis;
let sub: Redis;
const heard: [channel: string, frame: string][] = [];

/** Every frame published so far, once a marker published after them came back. */
async function published(): Promise<[string, string][]> {
  const marker = `marker-${Math.random()}`;
  await r.spublish(keys.roomChannel('room'), marker);
  await waitFor(() => heard.some(([, f]) => f === marker), { timeoutMs: 5000, what: 'marker' });
  const out = heard.filter(([, f]) => !f.startsWith('marker-'));
  heard.length = 0;
  return out;
}

beforeAll(async () => {
  master = await startRedis();
  r = master.client();
  sub = master.client();
  sub.on('smessage', (channel: string, frame: string) => heard.push([channel, frame]));
  sub.on('message', (channel: string, frame: string) => heard.push([channel, frame]));
  const dm = dmRoomName('ann', 'bob');
  await sub.ssubscribe(keys.roomChannel('room'), keys.roomChannel(dm));
  await sub.subscribe(keys.userChannel('bob'));
});
afterAll(async () => {
  await replica?.stop();
  await master?.stop();
});

describe('REDIS_ACK_REPLICAS=1', () => {
  it('without a replica: refused, and never published — not even the DM notice', async () => {
    const send = createSendScript(r, keys, config);
    await expect(send('room', ann, 'lost?', 'c1')).rejects.toBeInstanceOf(ReplicaAckError);
    await expect(send(dmRoomName('ann', 'bob'), ann, 'hello bob', 'c2')).rejects.toBeInstanceOf(ReplicaAckError);
    expect(await published()).toEqual([]);
    // written on the master all the same: a retry with the same cid is a duplicate, not a second message
    expect(await r.xlen(keys.roomLog('room'))).toBe(1);
  });

  it('with a replica: acked after it holds the message, published once, the bytes the log rebuilds', async () => {
    replica = await startRedis({ replicaOf: master.port });
    const rc = replica.client();
    await waitFor(async () => /master_link_status:up/.test(await rc.info('replication')), { timeoutMs: 10_000, what: 'replica in sync' });
    const send = createSendScript(r, keys, patient);
    const event = createEventScript(r, keys, patient);

    const res = await send('room', ann, 'kept', 'c3');
    expect(res.kind).toBe('ok');
    if (res.kind !== 'ok') return;
    expect(await rc.xlen(keys.roomLog('room'))).toBe(2); // the refused one (now replicated too) and this one
    const edit = await event('room', ann, 'c4', { kind: 'edit', target: res.id, text: 'kept, edited' });
    expect(edit.kind).toBe('ok');
    const frames = await published();
    const log = (await r.xrange(keys.roomLog('room'), res.id, '+')) as [string, string[]][];
    expect(frames).toEqual(log.map(([id, fields]) => [keys.roomChannel('room'), logEntryFrame('room', id, fields).json]));

    // the retry of the message refused above: a duplicate, acked now — and published (its first
    // publish never happened), rebuilt from the log byte for byte
    const retry = await send('room', ann, 'lost?', 'c1');
    expect(retry.kind).toBe('duplicate');
    const [oldest] = (await r.xrange(keys.roomLog('room'), '-', '+', 'COUNT', 1)) as [string, string[]][];
    expect(await published()).toEqual([[keys.roomChannel('room'), logEntryFrame('room', oldest![0], oldest![1]).json]]);

    // a DM's first message: the room channel and the peer's user channel, once each
    const dm = dmRoomName('ann', 'bob');
    await r.del(keys.roomLog(dm)); // as if the refused first message had never been written
    const first = await send(dm, ann, 'hi bob', 'c5');
    expect(first.kind).toBe('ok');
    const dmFrames = await published();
    expect(dmFrames.map(([channel]) => channel).sort()).toEqual([keys.roomChannel(dm), keys.userChannel('bob')].sort());
    expect(dmFrames[0]![1]).toBe(dmFrames[1]![1]);
    expect(JSON.parse(dmFrames[0]![1])).toMatchObject({ type: 'message', room: dm, text: 'hi bob', id: (first as { id: string }).id });
  });

  it('membership changes too: the created and joined frames go out after the WAIT, on the room and the owner\'s channel', async () => {
    const member = createMemberScript(r, keys, patient);
    const room = newMembersOnlyRoom('private');
    await sub.ssubscribe(keys.roomChannel(room));
    await sub.subscribe(keys.userChannel('ann'));
    const res = await member(room, ann, { op: 'create', title: 'acks' }, 'm1');
    expect(res.kind).toBe('ok');
    const log = (await r.xrange(keys.roomLog(room), '-', '+')) as [string, string[]][];
    const frames = log.map(([id, fields]) => logEntryFrame(room, id, fields).json);
    expect(frames).toHaveLength(2);
    const got = await published();
    expect(got.filter(([channel]) => channel === keys.roomChannel(room)).map(([, f]) => f)).toEqual(frames);
    expect(got.filter(([channel]) => channel === keys.userChannel('ann')).map(([, f]) => f)).toEqual([frames[1]]);
  });
});
