import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ERROR_CODES } from '../../src/protocol/errors.js';
import { SETTING_DOCS } from '../../src/config/config.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (p: string) => fs.readFileSync(path.join(root, p), 'utf8');

describe('the docs keep up with the code', () => {
  it('docs/protocol.md lists every error code with its HTTP status', () => {
    const protocol = read('docs/protocol.md');
    for (const code of ERROR_CODES) {
      const row = protocol.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      expect(row, `error code ${code} is documented`).toBeDefined();
      expect(row).toContain(`| ${ERROR_CATALOGUE[code].status} |`);
    }
  });

  it('the README configuration table names every setting with its default', () => {
    const readme = read('README.md');
    for (const s of SETTING_DOCS) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${s.env}\` |`));
      expect(row, `${s.env} is in the README`).toBeDefined();
      expect(row).toContain(s.default === '' ? '(unset)' : `\`${s.default}\``);
    }
  });

  it('the README quickstart is the two commands', () => {
    const readme = read('README.md');
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
    expect(read('.ci/run')).toMatch(/^npm test$/m);
  });
});
