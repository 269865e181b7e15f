/**
 * The demo end to end (what `sudo make demo` runs): every section appears, the lab-side steps
 * succeed, and it leaves nothing behind. Whether the agents report ready is the agent's
 * business and is printed, not asserted here.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { runDemo } from '../../src/lab/demo.js';
import { assertNoNamespaces, freshLabDir, labName, requireRoot } from './helpers.js';

before(() => {
  requireRoot();
  freshLabDir();
});

/** Splits the demo output into sections by their "== N. title ==" headings. */
function sections(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of out.split(/\n== /).slice(1)) {
    const nl = part.indexOf('\n');
    m.set(part.slice(0, nl).replace(/ ==$/, ''), part.slice(nl + 1));
  }
  return m;
}

test('demo: all sections, lab steps succeed, torn down afterwards', async () => {
  const name = labName('demo');
  const lines: string[] = [];
  await runDemo({ name, readyWaitMs: 5_000, out: (l) => lines.push(l) });
  const s = sections(lines.join('\n'));
  const get = (prefix: string) => [...s.entries()].find(([k]) => k.replace(/^\d+\. /, '').startsWith(prefix))?.[1] ?? assert.fail(`no section ${prefix}`);
  for (const must of ['Bring up', 'Add 2 pods', 'Namespaces', 'Pods', 'WorkloadEndpoints', 'BIRD peer', 'Tear down']) {
    assert.doesNotMatch(get(must), /FAILED/, `section ${must}`);
  }
  assert.equal(get('Pods').trim().split('\n').length, 6);
  assert.equal(get('WorkloadEndpoints').trim().split('\n').filter((l) => l.includes('/workloadendpoints/default/')).length, 6);
  assert.match(get('BIRD peer'), /node_3\s+BGP/);
  assert.match(get('Agent health'), /node-1 \(198\.18\.0\.11\): \/liveness/);
  assert.doesNotMatch(get('Policy enforced'), /FAILED/);
  assert.match(get('Policy enforced'), /with the policy: \S+ -> \S+: tcp\/80 allowed, tcp\/8080 denied, ping denied/);
  assert.match(get('Policy enforced'), /policy deleted: \S+ -> \S+: tcp\/80 allowed, tcp\/8080 allowed, ping allowed/);
  assert.match(get('Policy enforced'), /-A cali-pi-_\S+ .*--dports 80/);
  assert.match(get('Policy enforced'), /tier default \(end of tier: Deny\)[\s\S]*NetworkPolicy\/default\/web-ingress {2}\[cali-pi-_[A-Za-z0-9_-]{19}\]/, 'np/default/web-ingress is 30 characters with its prefix: Felix hashes it to 28');
  assert.match(get('Tear down'), new RegExp(`lab ${name} removed`));
  assertNoNamespaces(`tl-${name}-`);
});
