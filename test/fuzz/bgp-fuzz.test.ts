/**
 * The BGP codec fuzzer as part of `make test`: 100,000 mutated messages, bounded by about a minute
 * of wall clock on a slow machine. Needs no root. The seed is printed (and can be pinned with
 * TORTIE_FUZZ_SEED) so a failure replays with `node dist/test/fuzz/bgp-fuzz.js --seed N`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from './bgp-fuzz.js';

/** Upper bound on the run so a slow CI machine still finishes; the count is normally reached first. */
const FUZZ_SECONDS = 55;
const FUZZ_COUNT = 100_000;

test('bgp wire fuzz: only BgpDecodeError, no out-of-bounds reads, re-encoding round-trips', (t) => {
  const seed = process.env.TORTIE_FUZZ_SEED ? Number(process.env.TORTIE_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
  t.diagnostic(`seed ${seed}`);
  const r = runFuzz({ seed, count: FUZZ_COUNT, seconds: FUZZ_SECONDS });
  t.diagnostic(`${r.ran} messages in ${r.seconds.toFixed(1)}s: ${r.decoded} decoded, ${r.rejected} rejected, ${r.reencoded} re-encoded`);
  assert.deepEqual(
    r.failures.map((f) => `#${f.index} ${f.property} input ${f.hex}`),
    [],
    `fuzz failures; replay with: node dist/test/fuzz/bgp-fuzz.js --seed ${seed}`,
  );
  assert.ok(r.decoded > 0 && r.rejected > 0, 'the fuzzer exercised both paths');
});
