// Static guarantees of the browser client (frontend/), which is served as-is with no build
// step: no HTML sinks for data, nothing inline for the CSP to block, no token in a URL, and
// every relative ES-module import points at a file that exists. The SDK (sdk/src/, served at
// /sdk/ through the frontend/sdk link) is loaded by the page too: the same rules hold for it.
import { readFileSync, readdirSync, realpathSync, statSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve('frontend');

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (p.endsWith(ext)) out.push(p);
  }
  return out;
}

const SDK = resolve('sdk', 'src');
const scripts = [...files(join(ROOT, 'js'), '.js'), ...files(join(ROOT, 'examples'), '.js'), ...files(SDK, '.js')];
const html = readFileSync(join(ROOT, 'index.html'), 'utf8');
const css = readFileSync(join(ROOT, 'css', 'app.css'), 'utf8');

describe('frontend static checks', () => {
  it('has the client modules the page loads', () => {
    expect(scripts.map((p) => p.slice(ROOT.length + 1)).sort()).toEqual(
      expect.arrayContaining(['js/api.js', 'js/app.js', 'js/socket.js', 'js/store.js', 'js/ui/dom.js', 'js/ui/messages.js']),
    );
  });

  it('never parses data as HTML (no innerHTML, insertAdjacentHTML, document.write, eval)', () => {
    const sink = /\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML\s*\(|document\.write(ln)?\s*\(|\beval\s*\(|new\s+Function\s*\(|setAttribute\(\s*['"](style|on\w+)['"]/;
    for (const f of scripts) {
      const code = readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => !l.trim().startsWith('//'))
        .join('\n');
      expect(sink.exec(code)?.[0] ?? null, f).toBeNull();
    }
  });

  it('index.html has nothing inline for the CSP to block: no inline script, style or handler', () => {
    for (const tag of html.match(/<script\b[^>]*>[\s\S]*?<\/script>/g) ?? []) {
      expect(tag).toMatch(/\bsrc="\/[^"]+"/);
      expect(tag.replace(/<script\b[^>]*>/, '').replace('</script>', '').trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/javascript:/i);
  });

  it('puts the token in the WebSocket subprotocol, never in a URL', () => {
    const connection = readFileSync(join(SDK, 'connection.js'), 'utf8');
    expect(connection).toMatch(/new this\.WebSocket\(url, \[PROTOCOL, `bearer\.\$\{this\.auth\.token\}`\], this\.wsOptions\)/);
    expect(readFileSync(join(ROOT, 'js', 'socket.js'), 'utf8')).toMatch(/from '\.\.\/sdk\/connection\.js'/);
    expect(realpathSync(join(ROOT, 'sdk'))).toBe(SDK);
    for (const f of scripts) expect(readFileSync(f, 'utf8'), f).not.toMatch(/[?&](access_)?token=/i);
  });

  it('every relative import resolves to an existing file (there is no build step to catch it)', () => {
    for (const f of [...scripts]) {
      for (const m of readFileSync(f, 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*from\s+['"](\.[^'"]+)['"]/gm)) {
        expect(existsSync(resolve(dirname(f), m[1]!)), `${f} imports ${m[1]}`).toBe(true);
      }
    }
    for (const ref of html.matchAll(/(?:src|href)="(\/[^"#]+)"/g)) {
      expect(existsSync(join(ROOT, ref[1]!)), ref[1]).toBe(true);
    }
    for (const ref of css.matchAll(/url\('(\/[^']+)'\)/g)) expect(existsSync(join(ROOT, ref[1]!)), ref[1]).toBe(true);
  });

  it('the stylesheet has visible focus rings and a narrow-screen layout', () => {
    expect(css).toMatch(/:focus-visible\s*\{[^}]*box-shadow/);
    expect(css).toMatch(/@media \(max-width: 7\d\dpx\)/);
    expect(css).not.toMatch(/@import/);
  });
});
