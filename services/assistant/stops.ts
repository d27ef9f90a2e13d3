// The stop button: the users service (POST /api/rooms/:room/assistant/stop) checks that the
// caller asked the question and publishes `<room> <answer id>` on keys.assistantStops; every
// assistant process listens, and the one answering aborts it — the partial answer is kept,
// marked stopped (respond.ts).
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';

export interface StopListener {
  /** An AbortController aborted when the answer is stopped; forget() when it ends. */
  watch(room: string, answerId: string): { signal: AbortSignal; forget(): void };
  close(): Promise<void>;
}

export const stopMessage = (room: string, answerId: string) => `${room} ${answerId}`;

export async function listenForStops(subscriber: Redis, keys: Pick<Keys, 'assistantStops'>, log: Logger): Promise<StopListener> {
  const live = new Map<string, AbortController>();
  subscriber.on('message', (channel: string, payload: string) => {
    if (channel !== keys.assistantStops()) return;
    const c = live.get(payload);
    if (c) {
      log.info({ answer: payload }, 'assistant answer stopped by its asker');
      c.abort(new Error('stopped'));
    }
  });
  await subscriber.subscribe(keys.assistantStops());
  return {
    watch(room, answerId) {
      const key = stopMessage(room, answerId);
      const c = new AbortController();
      live.set(key, c);
      return { signal: c.signal, forget: () => live.delete(key) };
    },
    async close() {
      await subscriber.unsubscribe(keys.assistantStops()).catch(() => {});
    },
  };
}
