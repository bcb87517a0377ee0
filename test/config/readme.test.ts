import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configTableMarkdown } from '../../src/config/table.js';
import { ERRORS } from '../../src/errors.js';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

t.test('the README configuration table is the schema', async (t) => {
  const m = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
  t.ok(m, 'README has the config-table markers');
  t.equal(m?.[1], configTableMarkdown(), 'regenerate with: node dist/src/config/table.js');
});

t.test('every error code is documented in the README with its status', async (t) => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    t.match(readme, new RegExp(`\\| \`${code}\` \\| ${spec.status} \\|`), code);
  }
});
