import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configTableMarkdown, errorTableMarkdown, readmeSection } from '../../src/config/table.js';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

t.test('the README configuration table is the schema', async (t) => {
  t.equal(readmeSection(readme, 'config-table'), configTableMarkdown(), 'regenerate: node dist/src/config/table.js --write');
});

t.test('the README error table is the registry', async (t) => {
  t.equal(readmeSection(readme, 'error-table'), errorTableMarkdown(), 'regenerate: node dist/src/config/table.js --write');
});
