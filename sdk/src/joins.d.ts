export declare const JOIN_RETRIES: number;
/** Which answer belongs to which `join` on one connection (internal to Connection). */
export declare class JoinAnswers {
  reset(): void;
  sent(room: string, since?: string | null): void;
  forget(room: string): void;
  joined(room: string): { since: string | null; unanswered: string[] };
  refusal(frame: object): { room: string; forbidden: boolean } | null;
  retryDelay(room: string, frame: { code: string; retryAfterMs?: number }, backoff: (tries: number) => number): number | null;
}
