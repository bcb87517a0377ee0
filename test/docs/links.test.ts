import t from 'tap';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// The front door and the pages it sends readers to: every relative link must reach a file, and
// every #anchor a heading of that file, or a moved section leaves readers at a dead end.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const pages = [
  'README.md',
  'bench/README.md',
  'bench/results/performance-history.md',
  ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const m = !fence && /^#{1,6} (.*)$/.exec(line);
    if (m) out.add(slug(m[1]!));
  }
  return out;
}

function links(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?|mailto):/.test(l));
}

for (const page of pages) {
  t.test(`${page}: links resolve`, async (t) => {
    const file = join(root, page);
    for (const link of links(readFileSync(file, 'utf8'))) {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : join(dirname(file), path);
      t.ok(existsSync(target), `${link} → ${relative(root, target)} exists`);
      if (anchor && existsSync(target) && statSync(target).isFile() && target.endsWith('.md')) {
        t.ok(anchors(target).has(anchor), `${link}: #${anchor} is a heading of ${relative(root, target)}`);
      }
    }
  });
}

t.test('the README stays a front door', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  t.ok(readme.split('\n').length <= 400, `README.md has ${readme.split('\n').length} lines (at most 400; depth goes to docs/)`);
  t.match(readme, /^## Contents$/m, 'a table of contents');
});
