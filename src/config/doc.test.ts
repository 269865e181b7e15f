/**
 * docs/configuration.md must be exactly what the schema renders. Run with TORTIE_UPDATE_DOCS=1
 * to rewrite it after changing the schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { README_TABLE_END, README_TABLE_START, renderConfigurationDoc, renderReadmeConfigTable } from './doc.js';

/** The repository root: the nearest parent with package.json (works from src/ and from dist/src/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

test('docs/configuration.md matches the settings schema', () => {
  const path = join(repoRoot(), 'docs', 'configuration.md');
  const expected = renderConfigurationDoc();
  if (process.env.TORTIE_UPDATE_DOCS === '1') writeFileSync(path, expected);
  assert.ok(existsSync(path), `${path} is missing; run with TORTIE_UPDATE_DOCS=1 to create it`);
  assert.equal(
    readFileSync(path, 'utf8'),
    expected,
    'docs/configuration.md is out of date; run `TORTIE_UPDATE_DOCS=1 node --import tsx --test src/config/doc.test.ts`',
  );
});

test("README.md's configuration table matches the settings schema", () => {
  const path = join(repoRoot(), 'README.md');
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(README_TABLE_START);
  const end = text.indexOf(README_TABLE_END);
  assert.ok(start >= 0 && end > start, `README.md lacks the ${README_TABLE_START} ... ${README_TABLE_END} markers`);
  const current = text.slice(start, end + README_TABLE_END.length);
  const expected = renderReadmeConfigTable();
  if (process.env.TORTIE_UPDATE_DOCS === '1') writeFileSync(path, text.replace(current, expected));
  else assert.equal(current, expected, 'README.md configuration table is out of date; run `TORTIE_UPDATE_DOCS=1 node --import tsx --test src/config/doc.test.ts`');
});
