// The type an upload gets from its first bytes, on real files of each kind, and which of them
// the default allow-list (ATTACHMENT_TYPES) lets in.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { isUtf8Text, sniffType } from './sniff.js';
import { animatedGif, elfHead, exeHead, gif, jpegWithGps, noise, pdf, png, webp, zip } from './test-fixtures.js';

const allowed = loadConfig('users', {}).ATTACHMENT_TYPES;

describe('sniffType', () => {
  it('knows the binary formats by their magic bytes', async () => {
    expect(await sniffType(await png())).toBe('image/png');
    expect(await sniffType(await jpegWithGps())).toBe('image/jpeg');
    expect(await sniffType(await gif())).toBe('image/gif');
    expect(await sniffType(await animatedGif())).toBe('image/gif');
    expect(await sniffType(await webp())).toBe('image/webp');
    expect(await sniffType(pdf())).toBe('application/pdf');
    expect(await sniffType(zip())).toBe('application/zip');
  });

  it('calls HTML, SVG (with and without an XML declaration) and XML plain text: served as a download, never rendered', async () => {
    const html = '<!DOCTYPE html><html><body><script>alert(1)</script></body></html>';
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>';
    for (const text of [html, svg, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}`, '<?xml version="1.0"?><a/>']) {
      expect(await sniffType(Buffer.from(text)), text.slice(0, 30)).toBe('text/plain');
    }
  });

  it('calls UTF-8 without NUL text, even with a multi-byte character cut at the end of the head', async () => {
    const text = Buffer.from('héllo wörld, 日本語, emoji 🎉 '.repeat(200));
    expect(await sniffType(text)).toBe('text/plain');
    const cut = Buffer.from('abc 🎉').subarray(0, 6); // 'abc ' + 2 of the emoji's 4 bytes
    expect(isUtf8Text(cut)).toBe(true);
    expect(await sniffType(cut)).toBe('text/plain');
  });

  it('calls invalid UTF-8 and text with NUL opaque bytes', async () => {
    expect(await sniffType(Buffer.from('caf\xe9 au lait', 'latin1'))).toBe('application/octet-stream');
    expect(await sniffType(Buffer.from('abc\0def'))).toBe('application/octet-stream');
    // UTF-16 big-endian text (little-endian's BOM FF FE reads as an MP3 frame sync to file-type).
    const utf16be = Buffer.from([0xfe, 0xff, ...[...'hello world'].flatMap((c) => [0, c.charCodeAt(0)])]);
    expect(await sniffType(utf16be)).toBe('application/octet-stream');
    expect(await sniffType(noise())).toBe('application/octet-stream');
    expect(await sniffType(Buffer.alloc(0))).toBe('application/octet-stream');
  });

  it('recognises executables, and the default allow-list refuses them and opaque bytes', async () => {
    const elf = await sniffType(elfHead());
    const exe = await sniffType(exeHead());
    expect(elf).toBe('application/x-elf');
    expect(exe).toBe('application/x-msdownload');
    for (const t of [elf, exe, 'application/octet-stream']) expect(allowed, t).not.toContain(t);
    for (const t of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'application/zip', 'text/plain']) {
      expect(allowed, t).toContain(t);
    }
  });

  it('looks at no more than the head it is given (4100 bytes suffice)', async () => {
    const big = Buffer.concat([await png(), noise(100_000)]);
    expect(await sniffType(big.subarray(0, 4100))).toBe('image/png');
    expect(await sniffType(big)).toBe('image/png');
  });
});
