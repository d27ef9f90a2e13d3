import type { HistoryPage } from './rest.js';
import type { EventFrame, MemberEventFrame, RoomEventFrame, WireMessage } from './protocol.js';
export declare function pageItems(res: Partial<HistoryPage> | null): { messages: WireMessage[]; events: (MemberEventFrame | RoomEventFrame)[] };
export declare function pageCursor(res: Partial<HistoryPage> | null): string | null;
export declare function fillGap(
  history: (room: string, opts: { before?: string; limit?: number }) => Promise<HistoryPage>,
  room: string,
  messages: WireMessage[],
  since: string,
  opt: { gapFillPages: number; gapFillPageSize: number },
): Promise<{ filled: WireMessage[]; events: (EventFrame | MemberEventFrame | RoomEventFrame)[]; gap: boolean }>;
