/** `<ms>-<seq>` with both parts ≤ 2^53 − 1. */
export declare function isMessageId(id: unknown): id is string;
export declare function parseId(id: string): { ms: number; seq: bigint };
/** Negative when a < b, positive when a > b, 0 when equal (numeric, never textual). */
export declare function compareIds(a: string, b: string): number;
export declare function idTime(id: string): number;
export declare function insertSorted(ids: string[], id: string): void;
export declare function newCid(): string;
