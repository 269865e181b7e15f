#!/usr/bin/env node
// Runs the compiled tests on node:test, one `node --test` process per file.
//   unit:        dist/src/**/*.test.js   (no root needed; TORTIE_UNIT_JOBS files at a time, default 2)
//   integration: dist/test/**/*.test.js  (root, network namespaces, real etcd/BIRD/GoBGP; one at a time,
//                                         since they share the kernel and the two cores of a CI machine)
//   all:         both, unit first
// Integration tests fail loudly without root; they are skipped only when the caller asks,
// with TORTIE_SKIP_INTEGRATION=1. TORTIE_TEST_FILTER=substr runs only matching files.
//
// Why per file rather than one `node --test a b c`: each file gets a duration in the summary (where
// a 90-minute CI budget goes), a hard time limit (a hung file is killed with its process group,
// daemons included, instead of eating the budget), and unit files can run in parallel with their
// output kept whole. Each file's output is node's TAP; the run closes with node's summary lines
// (`# tests N`, `# pass N`, `# fail N`, ...) summed over all files, and exits non-zero when any
// file failed or any test failed.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const mode = process.argv[2] ?? 'all';
const filter = process.env.TORTIE_TEST_FILTER ?? '';
const num = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`run-tests: ${name}=${v} is not a positive number`);
    process.exit(2);
  }
  return n;
};
// Two files at a time: CI machines (and the dev VMs) have two cores.
const unitJobs = num('TORTIE_UNIT_JOBS', 2);
// Per-file limits: a file over its limit is killed with its whole process group (daemons it
// started included) and fails; the run goes on, and the next `make test` sweeps any lab it left.
// node 20's --test-timeout is no help here: it applies to the whole file and kills the child
// without running its after() hooks either. Generous, far above the slowest file seen (a few
// minutes), so only a hang hits them.
const unitFileTimeoutS = num('TORTIE_UNIT_FILE_TIMEOUT', 300);
const integrationFileTimeoutS = num('TORTIE_INTEGRATION_FILE_TIMEOUT', 900);
// Grace between SIGTERM and SIGKILL for a file over its limit.
const KILL_GRACE_MS = 15_000;

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

/** Drops compiled tests whose TypeScript source is gone (a stale dist/ from an older checkout). */
function withSource(files) {
  return files.filter((f) => {
    const src = f.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    if (existsSync(src)) return true;
    console.log(`run-tests: skipping ${f}: its source ${src} no longer exists (stale build output; 'make clean' removes it)`);
    return false;
  });
}

function netnsList() {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

let unit = [];
let integration = [];
if (mode === 'unit' || mode === 'all') unit = withSource(walk('dist/src'));
if (mode === 'integration' || mode === 'all') {
  if (process.env.TORTIE_SKIP_INTEGRATION === '1') {
    console.log("run-tests: TORTIE_SKIP_INTEGRATION=1: integration tests skipped at the caller's request");
  } else {
    if (process.getuid?.() !== 0) {
      console.error('run-tests: integration tests need root (network namespaces); run `sudo make test`, or set TORTIE_SKIP_INTEGRATION=1 to skip them');
      process.exit(1);
    }
    integration = withSource(walk('dist/test'));
  }
}
if (!['unit', 'integration', 'all'].includes(mode)) {
  console.error(`run-tests: unknown mode ${mode}; one of unit, integration, all`);
  process.exit(2);
}
if (filter) {
  unit = unit.filter((f) => f.includes(filter));
  integration = integration.filter((f) => f.includes(filter));
}
if (unit.length + integration.length === 0) {
  console.error(`run-tests: no test files found for mode ${mode}${filter ? ` and filter ${filter}` : ''}; did you run 'make build'?`);
  process.exit(1);
}

const COUNTERS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];
const totals = Object.fromEntries(COUNTERS.map((c) => [c, 0]));
/** { file, kind, ms, code, signal, timedOut, counts, failures } */
const results = [];

/**
 * Runs one file. `live` streams its output; otherwise it is printed whole when the file ends, so
 * parallel files do not interleave.
 */
function runFile(file, kind, live) {
  const fileTimeoutS = kind === 'unit' ? unitFileTimeoutS : integrationFileTimeoutS;
  const argv = ['--enable-source-maps', '--test', '--test-reporter=tap', file];
  return new Promise((resolve) => {
    const t0 = Date.now();
    // Own process group, so a file over its limit goes together with every daemon it started.
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    const onData = (stream) => (d) => {
      const s = d.toString();
      out += s;
      if (live) stream.write(s);
    };
    child.stdout.on('data', onData(process.stdout));
    child.stderr.on('data', onData(process.stderr));
    let timedOut = false;
    const killGroup = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const limit = setTimeout(() => {
      timedOut = true;
      const msg = `run-tests: ${file} exceeded its ${fileTimeoutS} s limit (TORTIE_${kind.toUpperCase()}_FILE_TIMEOUT); killing it`;
      out += `\n${msg}\n`;
      if (live) console.error(msg);
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    }, fileTimeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      // Whatever the file left running in its group (a daemon it failed to stop).
      killGroup('SIGKILL');
      const ms = Date.now() - t0;
      if (!live) process.stdout.write(out.endsWith('\n') || out === '' ? out : `${out}\n`);
      const counts = {};
      for (const c of COUNTERS) {
        // The last match: node prints its summary at the very end.
        const all = [...out.matchAll(new RegExp(`^(?:#|ℹ) ${c} (\\d+)$`, 'gm'))];
        counts[c] = all.length ? Number(all.at(-1)[1]) : 0;
      }
      // Names of the failing tests (suites too), for the closing list.
      const failures = [...out.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]);
      const r = { file, kind, ms, code, signal, timedOut, counts, failures };
      results.push(r);
      for (const c of COUNTERS) totals[c] += counts[c];
      const status = failed(r) ? 'FAILED' : 'ok';
      console.log(`# run-tests: ${status} ${file} in ${(ms / 1000).toFixed(1)} s (${counts.pass} passed, ${counts.fail} failed)`);
      resolve(r);
    });
  });
}

const failed = (r) => r.code !== 0 || r.signal !== null || r.timedOut || r.counts.fail > 0 || r.counts.cancelled > 0;

async function runPool(files, kind, jobs) {
  const queue = [...files];
  const live = jobs === 1;
  await Promise.all(
    Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      while (queue.length) await runFile(queue.shift(), kind, live);
    }),
  );
}

const t0 = Date.now();
let netnsBefore = [];
if (unit.length) {
  console.log(`# run-tests: ${unit.length} unit test files, ${unitJobs} at a time`);
  await runPool(unit, 'unit', unitJobs);
}
const unitMs = Date.now() - t0;
if (integration.length) {
  netnsBefore = netnsList();
  console.log(`# run-tests: ${integration.length} integration test files, one at a time`);
  await runPool(integration, 'integration', 1);
}
const totalMs = Date.now() - t0;

// Namespaces that appeared during the integration tests and are still there: a test that does not
// clean up. (On a shared machine another user's live run can show up here too, hence a warning.)
if (integration.length) {
  const before = new Set(netnsBefore);
  const left = netnsList().filter((n) => !before.has(n));
  if (left.length) console.log(`# run-tests: WARNING: network namespaces created during the run are still present: ${left.join(' ')}`);
}

const byTime = [...results].sort((a, b) => b.ms - a.ms);
console.log('# run-tests: slowest files');
for (const r of byTime.slice(0, 12)) console.log(`#   ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.kind.padEnd(11)} ${relative('.', r.file)}`);
const bad = results.filter(failed);
if (bad.length) {
  console.log(`# run-tests: ${bad.length} of ${results.length} files failed:`);
  for (const r of bad) {
    const why = r.timedOut ? 'over its time limit' : r.signal ? `killed by ${r.signal}` : r.counts.fail || r.counts.cancelled ? `${r.counts.fail} failed, ${r.counts.cancelled} cancelled` : `exit ${r.code}`;
    console.log(`#   ${r.file}: ${why}`);
    for (const f of r.failures.slice(0, 20)) console.log(`#     not ok - ${f}`);
  }
}
console.log(`# run-tests: ${results.length} files; unit ${(unitMs / 1000).toFixed(0)} s, integration ${((totalMs - unitMs) / 1000).toFixed(0)} s, total ${(totalMs / 1000).toFixed(0)} s`);
// node's own summary format, summed over every file.
for (const c of COUNTERS) console.log(`# ${c} ${totals[c]}`);
console.log(`# duration_ms ${totalMs}`);
process.exit(bad.length ? 1 : 0);
