// The avatar body limit and image processing without a server (the 5 MiB refusal mid-body is
// awkward end to end: a client still writing sees the connection close before the answer).
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.js';
import { AVATAR_MAX_BYTES, avatarImage, readBody } from './avatar-routes.js';
import { animatedGif, png, pngBomb } from './files/test-fixtures.js';

const body = (chunks: Buffer[], headers: Record<string, string> = {}) => Object.assign(Readable.from(chunks), { headers });

describe('readBody', () => {
  it('reads a body up to the limit whole', async () => {
    expect(await readBody(body([Buffer.from('ab'), Buffer.from('cd')]), 4)).toEqual(Buffer.from('abcd'));
  });

  it('refuses a declared length past the limit before reading, and an undeclared one at the first byte past it', async () => {
    let pulled = 0;
    const counted = (n: number) =>
      Object.assign(
        new Readable({
          read() {
            pulled++;
            this.push(pulled <= n ? Buffer.alloc(1024, 1) : null);
          },
        }),
        { headers: {} as Record<string, string> },
      );
    const declared = counted(10);
    declared.headers['content-length'] = String(AVATAR_MAX_BYTES + 1);
    await expect(readBody(declared, AVATAR_MAX_BYTES)).rejects.toMatchObject({ code: 'payload_too_large', status: 413 });
    expect(pulled).toBe(0);
    const streamed = counted(100);
    const err = await readBody(streamed, 5 * 1024 + 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'payload_too_large' });
    // stopped at the sixth kilobyte, not read to the end, and not destroyed (the 413 must still go out)
    expect(pulled).toBeLessThan(10);
    expect(streamed.destroyed).toBe(false);
  });
});

describe('avatarImage', () => {
  it('makes a 256 px square WebP (cover crop) of any allowed image, the first frame of an animation', async () => {
    for (const input of [await png(600, 200), await animatedGif(40, 30)]) {
      const meta = await sharp(await avatarImage(input)).metadata();
      expect(meta).toMatchObject({ format: 'webp', width: 256, height: 256 });
      expect(meta.pages ?? 1).toBe(1);
    }
  });

  it('refuses a decompression bomb by its header', async () => {
    await expect(avatarImage(pngBomb())).rejects.toMatchObject({ code: 'payload_too_large' });
  });
});
