/**
 * The README's configuration table, generated from the schema so the two cannot drift
 * (test/config/readme.test.ts compares them; `node dist/src/config/table.js` prints it).
 */
import { ConfigSchema } from './schema.js';

export function configTableMarkdown(): string {
  const rows = Object.entries(ConfigSchema.properties).map(([name, schema]) => {
    const s = schema as { default: unknown; description: string };
    return `| \`${name}\` | \`${String(s.default)}\` | ${s.description} |`;
  });
  return ['| Variable | Default | Description |', '| --- | --- | --- |', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(configTableMarkdown() + '\n');
