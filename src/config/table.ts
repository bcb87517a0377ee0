/**
 * README tables generated from their sources, so they cannot drift: the configuration
 * table from the config schema, the error table from the error registry.
 * `node dist/src/config/table.js --write` rewrites them in README.md;
 * test/config/readme.test.ts fails when they differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigSchema } from './schema.js';
import { ERRORS } from '../errors.js';

export function configTableMarkdown(): string {
  const rows = Object.entries(ConfigSchema.properties).map(([name, schema]) => {
    const s = schema as { default: unknown; description: string };
    return `| \`${name}\` | \`${String(s.default)}\` | ${s.description} |`;
  });
  return ['| Variable | Default | Description |', '| --- | --- | --- |', ...rows].join('\n');
}

export function errorTableMarkdown(): string {
  const rows = Object.entries(ERRORS).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.message} |`);
  return ['| Code | Status | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function readmeSection(readme: string, name: string): string | undefined {
  return new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(readme)?.[1];
}

function replaceSection(readme: string, name: string, body: string): string {
  return readme.replace(new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(\\n<!-- ${name}:end -->)`), `$1${body}$2`);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  const path = fileURLToPath(new URL('../../../README.md', import.meta.url));
  let readme = readFileSync(path, 'utf8');
  readme = replaceSection(readme, 'config-table', configTableMarkdown());
  readme = replaceSection(readme, 'error-table', errorTableMarkdown());
  writeFileSync(path, readme);
}
