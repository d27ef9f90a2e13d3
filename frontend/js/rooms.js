// Room names: the SDK's rules (sdk/src/rooms.js), which the server enforces with the same module
// — plus the browser's wording of what is wrong with a typed name.
import { PUBLIC_ROOM_RE } from '../sdk/rooms.js';

export {
  DEFAULT_ROOM,
  PUBLIC_ROOM_RE,
  dmMembers,
  dmPartner,
  dmRoomName,
  isConversation,
  isMembersOnlyRoom,
  isPublicRoom,
  isValidRoom,
  roomKindOf,
} from '../sdk/rooms.js';
export { MAX_TEXT_CHARS } from '../sdk/protocol.js';

/** Why a typed room name is not acceptable, or null when it is (after trimming/lowercasing). */
export function roomNameProblem(name) {
  if (!name) return 'Enter a room name.';
  if (name.length > 64) return 'Room names are at most 64 characters.';
  if (!PUBLIC_ROOM_RE.test(name))
    return 'Use lowercase letters, digits, "-" or "_", starting with a letter or digit.';
  return null;
}
