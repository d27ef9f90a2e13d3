// processImage on real images made by sharp: orientation, metadata stripping (GPS), formats
// kept, thumbnails, animation, and the refusals (a decompression bomb, a broken file).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageError, processImage } from './images.js';
import { animatedGif, brokenPng, gif, hasGpsPointer, jpegWithGps, png, pngBomb, webp } from './test-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'aurora-images-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
async function run(input: Buffer, maxPixels?: number) {
  const inPath = join(dir, `in${++n}`);
  const outPath = join(dir, `out${n}`);
  writeFileSync(inPath, input);
  const result = await processImage(inPath, outPath, maxPixels);
  return { result, out: readFileSync(outPath), outPath };
}

describe('processImage', () => {
  it('re-encodes a PNG as PNG with its size, and a WebP thumbnail fitting 320x320', async () => {
    const { result, out, outPath } = await run(await png(600, 400));
    expect(result).toMatchObject({ type: 'image/png', width: 600, height: 400, size: statSync(outPath).size });
    expect((await sharp(out).metadata()).format).toBe('png');
    const thumb = await sharp(result.thumb).metadata();
    expect(thumb).toMatchObject({ format: 'webp', width: 320, height: 213 });
  });

  it('applies EXIF orientation and strips every piece of EXIF, GPS included, from a phone JPEG', async () => {
    const input = await jpegWithGps(400, 200);
    const before = await sharp(input).metadata();
    expect(before.orientation).toBe(6);
    expect(hasGpsPointer(before.exif), 'the fixture carries a GPS IFD').toBe(true);

    const { result, out } = await run(input);
    expect(result).toMatchObject({ type: 'image/jpeg', width: 200, height: 400 });
    const after = await sharp(out).metadata();
    expect(after.exif).toBeUndefined();
    expect(after.orientation).toBeUndefined();
    expect(out.includes(Buffer.from('Exif\0\0', 'latin1'))).toBe(false);
    expect(after).toMatchObject({ width: 200, height: 400 });
    expect(await sharp(result.thumb).metadata()).toMatchObject({ width: 160, height: 320 });
  });

  it('keeps WebP and GIF in their format and never enlarges a small image for its thumbnail', async () => {
    const w = await run(await webp(300, 200));
    expect(w.result).toMatchObject({ type: 'image/webp', width: 300, height: 200 });
    expect(await sharp(w.result.thumb).metadata()).toMatchObject({ width: 300, height: 200 });
    const g = await run(await gif(30, 20));
    expect(g.result).toMatchObject({ type: 'image/gif', width: 30, height: 20 });
    expect((await sharp(g.out).metadata()).format).toBe('gif');
  });

  it('keeps an animated GIF animated, its height one frame; the thumbnail is the first frame', async () => {
    const { result, out } = await run(await animatedGif(40, 30));
    expect(result).toMatchObject({ type: 'image/gif', width: 40, height: 30 });
    expect(await sharp(out, { animated: true }).metadata()).toMatchObject({ pages: 2, pageHeight: 30 });
    expect(await sharp(result.thumb).metadata()).toMatchObject({ format: 'webp', width: 40, height: 30 });
  });

  it('refuses a decompression bomb from its header, without decoding it', async () => {
    const bomb = pngBomb(); // a few hundred bytes claiming 100000 x 100000 pixels
    expect(bomb.length).toBeLessThan(1000);
    const started = Date.now();
    const err = await run(bomb).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe('too_many_pixels');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses an image over the pixel limit it is given', async () => {
    await expect(run(await png(200, 100), 19_999)).rejects.toMatchObject({ code: 'too_many_pixels' });
    await expect(run(await png(200, 100), 20_000)).resolves.toBeDefined();
  });

  it('refuses a broken image and a file that is no image as bad_image', async () => {
    await expect(run(await brokenPng())).rejects.toMatchObject({ name: 'ImageError', code: 'bad_image' });
    await expect(run(Buffer.from('just some text'))).rejects.toMatchObject({ code: 'bad_image' });
  });
});
