// README and the CI entry point are part of the product: these checks keep them true.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../services/shared/config.js';

const readme = readFileSync('README.md', 'utf8');

describe('README', () => {
  it('documents every configuration variable the schema knows, in the table', () => {
    const tableRows = readme.split('\n').filter((l) => l.startsWith('| `'));
    const documented = new Set(tableRows.map((l) => /^\| `([A-Z0-9_]+)`/.exec(l)?.[1]).filter(Boolean));
    const missing = CONFIG_VARIABLES.filter((v) => !documented.has(v));
    expect(missing).toEqual([]);
    const unknown = [...documented].filter((v) => !(CONFIG_VARIABLES as string[]).includes(v!));
    expect(unknown).toEqual([]);
  });

  it('starts with the two commands', () => {
    const firstBlock = readme.slice(0, readme.indexOf('```', readme.indexOf('```') + 3));
    expect(firstBlock).toContain('./run.sh ');
    expect(firstBlock).toContain('./run.sh test');
  });
});

describe('CI', () => {
  it('.ci/run runs exactly ./run.sh test', () => {
    const ci = readFileSync('.ci/run', 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '));
    expect(ci).toEqual(['exec ./run.sh test']);
  });
});
