// sortBatch: what of a batch goes to the store, how, and what is dead-lettered before any write.
import { describe, expect, it } from 'vitest';
import { ingestEntryFields, ingestEventFields, type ChatMessage, type RoomEvent } from '../shared/message.js';
import { sortBatch } from './batch.js';
import type { IngestEntry } from './streams.js';

let seq = 0;
const entry = (fields: string[] | null, deliveries = 1): IngestEntry => ({
  stream: '{p0}:ingest',
  partition: 0,
  id: `9-${seq++}`,
  fields,
  deliveries,
});
const msg = (id: string, cid = `c-${id}`, uid = 'u1'): ChatMessage => ({
  id, room: 'general', user: { id: uid, name: 'ann' }, text: `text ${id}`, ts: Number(id.split('-')[0]), cid,
});
const edit = (id: string, target: string, cid = `e-${id}`, uid = 'u1'): RoomEvent => ({
  id, room: 'general', user: { id: uid, name: 'ann' }, ts: Number(id.split('-')[0]), cid, target, kind: 'edit', text: `edit ${id}`,
});

describe('sortBatch', () => {
  it('puts messages and events apart, in batch order, and poison aside with its reason', () => {
    const batch = [
      entry(ingestEntryFields(msg('10-0'))),
      entry(ingestEventFields(edit('11-0', '10-0'))),
      entry(['room', 'general', 'id', '12-0', 'ev', 'pin', 'uid', 'u1', 'name', 'a', 'cid', 'c', 'tg', '10-0']),
      entry(null),
      entry(ingestEntryFields(msg('13-0'))),
    ];
    const s = sortBatch(batch, 5);
    expect(s.messages.fresh.map((m) => m.id)).toEqual(['10-0', '13-0']);
    expect(s.events.fresh.map((e) => [e.id, e.kind, e.target])).toEqual([['11-0', 'edit', '10-0']]);
    expect(s.poison.map((p) => [p.entry, p.kind, p.reason])).toEqual([
      [batch[2], 'invalid', 'unknown event kind'],
      [batch[3], 'deleted', 'entry was deleted from the stream before it was stored'],
    ]);
    for (const e of [...s.messages.fresh, ...s.events.fresh]) expect(s.entryOf.get(e)).toBeDefined();
  });

  it('keeps one of the same message or event delivered twice in a batch', () => {
    const m = msg('20-0');
    const e = edit('21-0', '20-0');
    const s = sortBatch([entry(ingestEntryFields(m)), entry(ingestEventFields(e)), entry(ingestEntryFields(m)), entry(ingestEventFields(e))], 5);
    expect(s.messages.fresh).toHaveLength(1);
    expect(s.events.fresh).toHaveLength(1);
    expect(s.messages.sameIdLater).toEqual([]);
    expect(s.poison).toEqual([]);
  });

  it('a different message or event under an id the batch had waits for the store, which says which one it holds', () => {
    const batch = [
      entry(ingestEntryFields(msg('30-0', 'first'))),
      entry(ingestEntryFields(msg('30-0', 'second', 'u2'))),
      entry(ingestEventFields(edit('31-0', '30-0', 'first'))),
      entry(ingestEventFields(edit('31-0', '30-0', 'other', 'u2'))),
    ];
    const s = sortBatch(batch, 5);
    expect(s.messages.fresh.map((m) => m.cid)).toEqual(['first']);
    expect(s.messages.sameIdLater.map((m) => m.cid)).toEqual(['second']);
    expect(s.entryOf.get(s.messages.sameIdLater[0]!)).toBe(batch[1]);
    expect(s.events.fresh.map((e) => e.cid)).toEqual(['first']);
    expect(s.events.sameIdLater.map((e) => e.cid)).toEqual(['other']);
    expect(s.entryOf.get(s.events.sameIdLater[0]!)).toBe(batch[3]);
    expect(s.poison).toEqual([]);
  });

  it('a message and an event never collide: they are kept in separate id spaces', () => {
    const s = sortBatch([entry(ingestEntryFields(msg('40-0'))), entry(ingestEventFields(edit('40-0', '39-0')))], 5);
    expect(s.messages.fresh).toHaveLength(1);
    expect(s.events.fresh).toHaveLength(1);
  });

  it('entries delivered more than maxDeliveries times are suspects, messages and events alike', () => {
    const s = sortBatch([
      entry(ingestEntryFields(msg('50-0')), 6),
      entry(ingestEntryFields(msg('51-0')), 5),
      entry(ingestEventFields(edit('52-0', '50-0')), 6),
    ], 5);
    expect(s.messages.suspects.map((m) => m.id)).toEqual(['50-0']);
    expect(s.messages.fresh.map((m) => m.id)).toEqual(['51-0']);
    expect(s.events.suspects.map((e) => e.id)).toEqual(['52-0']);
    expect(s.events.fresh).toEqual([]);
  });
});
