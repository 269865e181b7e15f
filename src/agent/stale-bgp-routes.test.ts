import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StaleBgpRoutes, type BestRoute } from './stale-bgp-routes.js';

test('stale kernel routes stay until sweep; refreshed ones are not withdrawn; sweep happens once', () => {
  const got: BestRoute[][] = [];
  const s = new StaleBgpRoutes((c) => got.push([...c]));
  s.seed([{ prefix: '10.65.0.64/26', nextHop: '198.18.0.12' }, { prefix: '10.65.0.128/26', nextHop: '198.18.0.13' }]);
  assert.equal(s.seededCount, 2);
  assert.deepEqual(got[0]!.map((r) => r.prefix), ['10.65.0.64/26', '10.65.0.128/26']);
  s.onBest([{ prefix: '10.65.0.64/26', nextHop: '198.18.0.12' }]);
  assert.equal(s.staleCount, 1);
  s.sweep('test');
  assert.deepEqual(got.at(-1), [{ prefix: '10.65.0.128/26' }], 'only the never-refreshed route is withdrawn');
  const n = got.length;
  s.sweep('again');
  assert.equal(got.length, n);
  assert.equal(s.converged, true);
});
