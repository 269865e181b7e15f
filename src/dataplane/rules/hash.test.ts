import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rule } from './chain.js';
import { appendedRuleHashes, insertedRuleHashes, ruleHashes } from './hash.js';
import { hookLines, restoreTableText, toRestoreLines } from './restore.js';

// Every expected hash below was read off real Calico nodes' `iptables-save` / `iptables -S`
// output (published dumps); the rule texts are those rules as Felix writes them (long options,
// `-p 17` for udp, `0/0x..` for cleared marks), which is what the hash covers.

test('hooks into the built-in chains hash like on every Calico node', () => {
  assert.deepEqual(insertedRuleHashes('INPUT', [rule([], ['--jump', 'cali-INPUT'])]), ['Cz_u1IQiXIMmKD4c']);
  assert.deepEqual(insertedRuleHashes('FORWARD', [rule([], ['--jump', 'cali-FORWARD'])]), ['wUHhoiAYhphO9Mso']);
  assert.deepEqual(insertedRuleHashes('OUTPUT', [rule([], ['--jump', 'cali-OUTPUT'])]), ['tVnHkvAo15HuiPy0']);
  assert.deepEqual(insertedRuleHashes('PREROUTING', [rule([], ['--jump', 'cali-PREROUTING'])]), ['6gwbT8clXdHdC1b1']);
});

test('rules appended to FORWARD are hashed under FORWARD*appends*', () => {
  const rules = [
    rule(['-m', 'mark', '--mark', '0x10000/0x10000'], ['--jump', 'ACCEPT'], 'Policy explicitly accepted packet.'),
    rule([], ['--jump', 'MARK', '--set-mark', '0x10000/0x10000']),
  ];
  assert.deepEqual(appendedRuleHashes('FORWARD', rules), ['S93hcgKJrXEqnTfs', 'mp77cMpurHhyjLrM']);
});

test('a workload chain: each hash chains in the ones before it', () => {
  const chain = 'cali-fw-cali112d888c0c2';
  const rules = [
    rule(['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED'], ['--jump', 'ACCEPT']),
    rule(['-m', 'conntrack', '--ctstate', 'INVALID'], ['--jump', 'DROP']),
    rule([], ['--jump', 'MARK', '--set-mark', '0/0x10000']),
    rule(['-p', '17', '-m', 'multiport', '--destination-ports', '4789'], ['--jump', 'DROP'], 'Drop VXLAN encapped packets originating in workloads'),
    rule(['-p', '4'], ['--jump', 'DROP'], 'Drop IPinIP encapped packets originating in workloads'),
    rule([], ['--jump', 'cali-pro-kns.kube-system']),
    rule(['-m', 'mark', '--mark', '0x10000/0x10000'], ['--jump', 'RETURN'], 'Return if profile accepted'),
  ];
  assert.deepEqual(ruleHashes(chain, rules), [
    'gxYrST51OJyfBgWw',
    '6xENQhO2T0QW5LgN',
    'O7MDTYmYN54jUWVF',
    'pJp4jdAzPgU1geph',
    'rM5VAS66uaB9uI7_',
    's_9J1YgpafK_gEIJ',
    'djdRyha1SrYGGpRJ',
  ]);
  // The same rules in another chain hash differently.
  assert.notEqual(ruleHashes('cali-fw-cali26cecacb712', rules)[0], 'gxYrST51OJyfBgWw');
});

test('a rule that is only a comment (an empty profile) hashes its comment', () => {
  const rules = [rule([], [], 'Profile ksa.kube-system.metrics-server ingress')];
  assert.deepEqual(ruleHashes('cali-pri-_CVSZITRyIpEmH8AB6H', rules), ['Jm7TmoNoWplOEka1']);
});

test('restore lines put the hash comment first, then comments, match, action', () => {
  const chain = { name: 'cali-wl-to-host', rules: [rule([], ['--jump', 'cali-from-wl-dispatch']), rule([], ['--jump', 'ACCEPT'], 'Configured DefaultEndpointToHostAction')] };
  assert.deepEqual(toRestoreLines(chain), [
    '-A cali-wl-to-host -m comment --comment "cali:Ee9Sbo10IpVujdIY" --jump cali-from-wl-dispatch',
    '-A cali-wl-to-host -m comment --comment "cali:nSZbcOoG1xPONxb8" -m comment --comment "Configured DefaultEndpointToHostAction" --jump ACCEPT',
  ]);
});

test('comments keep only shell-safe characters', () => {
  const chain = { name: 'x', rules: [rule([], [], 'k8s.io/name="web" & more')] };
  assert.deepEqual(toRestoreLines(chain, ['h']), ['-A x -m comment --comment "cali:h" -m comment --comment "k8s.io/name=_web_ _ more"']);
});

test('inserted hooks are written last-first so they end up in order; appended ones in order', () => {
  const insert = { table: 'filter' as const, chain: 'INPUT', rules: [rule([], ['--jump', 'a']), rule([], ['--jump', 'b'])], mode: 'insert-or-append' as const };
  const [ha, hb] = insertedRuleHashes('INPUT', insert.rules);
  assert.deepEqual(hookLines(insert), [`-I INPUT -m comment --comment "cali:${hb}" --jump b`, `-I INPUT -m comment --comment "cali:${ha}" --jump a`]);
  assert.deepEqual(hookLines(insert, 'append'), [`-A INPUT -m comment --comment "cali:${ha}" --jump a`, `-A INPUT -m comment --comment "cali:${hb}" --jump b`]);
  const post = { table: 'nat' as const, chain: 'POSTROUTING', rules: [rule([], ['--jump', 'cali-POSTROUTING'])], mode: 'append' as const };
  const [hp] = appendedRuleHashes('POSTROUTING', post.rules);
  assert.deepEqual(hookLines(post), [`-A POSTROUTING -m comment --comment "cali:${hp}" --jump cali-POSTROUTING`]);
});

test('a table transaction: forward references, rules, hooks of that table, COMMIT', () => {
  const chain = { name: 'cali-wl-to-host', rules: [rule([], ['--jump', 'cali-from-wl-dispatch'])] };
  const hooks = [
    { table: 'filter' as const, chain: 'INPUT', rules: [rule([], ['--jump', 'cali-INPUT'])], mode: 'insert-or-append' as const },
    { table: 'nat' as const, chain: 'OUTPUT', rules: [rule([], ['--jump', 'cali-OUTPUT'])], mode: 'insert-or-append' as const },
  ];
  assert.equal(
    restoreTableText('filter', [chain], hooks),
    [
      '*filter',
      ':cali-wl-to-host - -',
      '-A cali-wl-to-host -m comment --comment "cali:Ee9Sbo10IpVujdIY" --jump cali-from-wl-dispatch',
      '-I INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" --jump cali-INPUT',
      'COMMIT',
      '',
    ].join('\n'),
  );
});
