import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRestoreFailure, formatRestoreFailure } from './restore-error.js';

// stderr texts as iptables 1.8.9 prints them (legacy and nft), copied from real runs.
const lines = ['*filter', ':cali-a - -', '-A cali-a -j ACCEPT', '-A cali-a -m nonexistentmatch --foo -j ACCEPT', '-A cali-a -j cali-nonexist', 'COMMIT'];

test('a parse error names its line', () => {
  const f = describeRestoreFailure(
    "iptables-restore v1.8.9 (legacy): Couldn't load match `nonexistentmatch':No such file or directory\n\nError occurred at line: 4\nTry `iptables-restore -h' or 'iptables-restore --help' for more information.\n",
    lines,
  );
  assert.equal(f.lineNumber, 4);
  assert.equal(f.line, '-A cali-a -m nonexistentmatch --foo -j ACCEPT');
  assert.doesNotMatch(f.message, /Try `/);
  assert.equal(
    formatRestoreFailure('iptables-legacy-restore', f),
    "iptables-legacy-restore rejected the transaction at line 4: -A cali-a -m nonexistentmatch --foo -j ACCEPT (iptables-restore v1.8.9 (legacy): Couldn't load match `nonexistentmatch':No such file or directory; Error occurred at line: 4)",
  );
});

test('nft names the line after a jump to a missing chain; the named chain points at the real one', () => {
  const f = describeRestoreFailure("iptables-nft-restore v1.8.9 (nf_tables): Chain 'cali-nonexist' does not exist\nError occurred at line: 6\n", lines);
  assert.equal(f.lineNumber, 6);
  assert.equal(f.line, '-A cali-a -j cali-nonexist');
});

test('legacy kernel refusals name the COMMIT line; nft kernel refusals name the rule', () => {
  assert.equal(describeRestoreFailure('iptables-restore: line 6 failed\n', lines).line, 'COMMIT');
  const nft = describeRestoreFailure('iptables-nft-restore v1.8.9 (nf_tables): \nline 3: RULE_APPEND failed (Invalid argument): rule in chain cali-a\n', lines);
  assert.equal(nft.lineNumber, 3);
  assert.equal(nft.line, '-A cali-a -j ACCEPT');
  assert.equal(describeRestoreFailure('iptables-nft-restore: line 5 failed: Index of deletion too big.\n', lines).lineNumber, 5);
});

test('no line number: just the message', () => {
  const f = describeRestoreFailure('something odd\n', lines);
  assert.equal(f.lineNumber, undefined);
  assert.equal(formatRestoreFailure('x', f), 'x rejected the transaction (something odd)');
});
