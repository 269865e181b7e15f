#!/usr/bin/env node
// Runs the compiled tests on node:test.
//   unit:        dist/src/**/*.test.js   (no root needed)
//   integration: dist/test/**/*.test.js  (root, network namespaces, real etcd/BIRD/GoBGP)
//   all:         both
// Integration tests fail loudly without root; they are skipped only when the caller asks,
// with TORTIE_SKIP_INTEGRATION=1. TORTIE_TEST_FILTER=substr runs only matching files.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const mode = process.argv[2] ?? 'all';
const filter = process.env.TORTIE_TEST_FILTER ?? '';

function walk(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

let files = [];
if (mode === 'unit' || mode === 'all') files.push(...walk('dist/src'));
if (mode === 'integration' || mode === 'all') {
  if (process.env.TORTIE_SKIP_INTEGRATION === '1') {
    console.log('run-tests: TORTIE_SKIP_INTEGRATION=1: integration tests skipped at the caller\'s request');
  } else {
    if (process.getuid?.() !== 0) {
      console.error('run-tests: integration tests need root (network namespaces); run `sudo make test`, or set TORTIE_SKIP_INTEGRATION=1 to skip them');
      process.exit(1);
    }
    files.push(...walk('dist/test'));
  }
}
if (filter) files = files.filter((f) => f.includes(filter));
if (files.length === 0) {
  console.error(`run-tests: no test files found for mode ${mode}; did you run 'make build'?`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
