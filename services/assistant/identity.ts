// The assistant is a user like any other — an account named `assistant`, so its messages,
// mentions, DMs (dm:<someone>:<its id>) and profile need nothing special anywhere else — that
// nobody can sign in as: its password hash is '' (no bcrypt hash, passwords.ts answers false for
// every password). The users service and the assistant worker both make sure it exists at start,
// so the name is never free for a person to register.
import type { Logger } from '../shared/logger.js';
import type { ChatUser } from '../shared/message.js';
import { DuplicateUsernameError, type Store } from '../shared/store/store.js';

export const ASSISTANT_USERNAME = 'assistant';

export async function ensureAssistantUser(store: Store, log: Pick<Logger, 'info' | 'error'>): Promise<ChatUser> {
  let user = await store.findUserByUsername(ASSISTANT_USERNAME);
  if (!user) {
    try {
      user = await store.createUser({ username: ASSISTANT_USERNAME, passwordHash: '' });
      log.info({ userId: user.id }, 'assistant account created');
    } catch (err) {
      if (!(err instanceof DuplicateUsernameError)) throw err;
      user = await store.findUserByUsername(ASSISTANT_USERNAME); // another process created it first
    }
  }
  if (!user) throw new Error('the assistant account could not be created');
  if (user.passwordHash !== '') {
    // A person registered the name before the assistant existed: never answer as them.
    log.error({ userId: user.id }, `a person's account is named "${ASSISTANT_USERNAME}": the assistant stays off until that account is deleted (DELETE /api/me, signed in as it)`);
    throw new Error(`the username "${ASSISTANT_USERNAME}" belongs to a person`);
  }
  return { id: user.id, name: user.username };
}
