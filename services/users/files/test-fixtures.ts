// Real file bytes for the sniff, image and pipeline tests: images made by sharp, the other
// formats built by hand to their specs (a stored zip, a minimal PDF, a PNG whose header claims
// ten billion pixels). Nothing here is a mock of a parser: each is what a client could send.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

export const solid = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 60, b: 30 } } });

export const png = (w = 600, h = 400) => solid(w, h).png().toBuffer();
export const webp = (w = 300, h = 200) => solid(w, h).webp().toBuffer();
export const gif = (w = 30, h = 20) => solid(w, h).gif().toBuffer();

/** A two-frame animated GIF, each frame w×h. */
export const animatedGif = async (w = 40, h = 30) => {
  const frame = (background: string) => sharp({ create: { width: w, height: h, channels: 4, background } }).png().toBuffer();
  return sharp([await frame('blue'), await frame('red')], { join: { animated: true } })
    .gif({ delay: [100, 100] })
    .toBuffer();
};

/**
 * A JPEG stored w×h with EXIF orientation 6 (shown rotated 90°: h×w) and a GPS position in its
 * EXIF, as a phone writes it.
 */
export const jpegWithGps = (w = 400, h = 200) =>
  solid(w, h)
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExifMerge({ IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 3230/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 4366/100' } })
    .toBuffer();

/** EXIF's GPS IFD pointer tag (0x8825) as it appears in a little- or big-endian TIFF header. */
export const hasGpsPointer = (exif: Buffer | undefined) =>
  !!exif && (exif.includes(Buffer.from([0x25, 0x88])) || exif.includes(Buffer.from([0x88, 0x25])));

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid-looking PNG whose header claims width×height (default 100000², 10 G pixels) over a few bytes. */
export function pngBomb(width = 100_000, height = 100_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(64 * 1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A PNG signature and header followed by garbage. */
export const brokenPng = async () => Buffer.concat([(await png(50, 50)).subarray(0, 40), Buffer.alloc(200, 0x5a)]);

export const pdf = () =>
  Buffer.from(
    '%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n' +
      'trailer << /Root 1 0 R >>\n%%EOF\n',
  );

/** A zip archive with one stored (uncompressed) entry. */
export function zip(name = 'hello.txt', content = 'hello zip\n'): Buffer {
  const data = Buffer.from(content);
  const fname = Buffer.from(name);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4); // version needed
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(fname.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(10, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(fname.length, 28);
  const localSize = local.length + fname.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fname.length, 12);
  end.writeUInt32LE(localSize, 16);
  return Buffer.concat([local, fname, data, central, fname, end]);
}

/** The first bytes of the running node binary: a real ELF executable header. */
export function elfHead(bytes = 4100): Buffer {
  const fd = openSync(process.execPath, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

/** A Windows PE executable's DOS header ('MZ' stub) and PE signature. */
export function exeHead(): Buffer {
  const buf = Buffer.alloc(512);
  buf.write('MZ', 0, 'latin1');
  buf.writeUInt32LE(0x80, 0x3c); // e_lfanew
  buf.write('PE\0\0', 0x80, 'latin1');
  buf.writeUInt16LE(0x8664, 0x84); // machine: x86-64
  return buf;
}

/** Fixed pseudo-random bytes (the same every run): binary that is no known format. */
export function noise(size = 8192): Buffer {
  const out: Buffer[] = [];
  let block = createHash('sha256').update('aurora-noise').digest();
  for (let n = 0; n < size; n += block.length) {
    out.push(block);
    block = createHash('sha256').update(block).digest();
  }
  return Buffer.concat(out).subarray(0, size);
}
