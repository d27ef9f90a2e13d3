// Password hashing. bcrypt only reads the first 72 bytes of its input (and stops at a NUL), so
// a 128-character password would be checked only in part; the password is therefore first
// reduced to its sha256 (base64: 44 ASCII bytes), then bcrypt'ed with BCRYPT_COST.
//
// verify() for an unknown user still runs one bcrypt comparison, against a hash computed once
// at start, so "no such user" and "wrong password" take the same time and an attacker cannot
// enumerate usernames by timing the login endpoint.
import { createHash, randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';

const prehash = (password: string) => createHash('sha256').update(password, 'utf8').digest('base64');

export interface Passwords {
  hash(password: string): Promise<string>;
  /** `passwordHash` null = unknown user: compares against the dummy and returns false. */
  verify(password: string, passwordHash: string | null): Promise<boolean>;
}

export async function createPasswords(cost: number): Promise<Passwords> {
  const dummyHash = await bcrypt.hash(prehash(randomBytes(16).toString('hex')), cost);
  return {
    hash: (password) => bcrypt.hash(prehash(password), cost),
    async verify(password, passwordHash) {
      const ok = await bcrypt.compare(prehash(password), passwordHash ?? dummyHash);
      return ok && passwordHash !== null;
    },
  };
}
