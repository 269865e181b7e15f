import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rule, type Chain } from '../rules/chain.js';
import { chainUpdateLines } from './chain-diff.js';

const chain: Chain = {
  name: 'cali-x',
  rules: [rule(['-s', '10.0.0.1/32'], ['--jump', 'ACCEPT']), rule(['-s', '10.0.0.2/32'], ['--jump', 'ACCEPT']), rule([], ['--jump', 'DROP'])],
};
// Stand-in hashes: the diff compares whatever it is given; the real ones are tested in rules/.
const want = ['h1', 'h2', 'h3'];

function lines(current: readonly string[] | undefined): string[] {
  const out: string[] = [];
  chainUpdateLines(chain, want, current, out);
  return out;
}

test('a chain whose hashes match needs no line', () => {
  assert.deepEqual(lines(['h1', 'h2', 'h3']), []);
});

test('a new chain is all appends (its forward reference is the caller’s)', () => {
  assert.deepEqual(lines(undefined), [
    '-A cali-x -m comment --comment "cali:h1" -s 10.0.0.1/32 --jump ACCEPT',
    '-A cali-x -m comment --comment "cali:h2" -s 10.0.0.2/32 --jump ACCEPT',
    '-A cali-x -m comment --comment "cali:h3" --jump DROP',
  ]);
});

test('one changed position is one replace', () => {
  assert.deepEqual(lines(['h1', 'old', 'h3']), ['-R cali-x 2 -m comment --comment "cali:h2" -s 10.0.0.2/32 --jump ACCEPT']);
});

test('surplus rules are deleted from the end, highest position first', () => {
  assert.deepEqual(lines(['h1', 'h2', 'h3', 'x', '', 'y']), ['-D cali-x 6', '-D cali-x 5', '-D cali-x 4']);
});

test('missing rules are appended after any replaces', () => {
  assert.deepEqual(lines(['h1', 'zz']), ['-R cali-x 2 -m comment --comment "cali:h2" -s 10.0.0.2/32 --jump ACCEPT', '-A cali-x -m comment --comment "cali:h3" --jump DROP']);
});

test('a foreign rule slipped into the middle is overwritten position by position', () => {
  assert.deepEqual(lines(['h1', '', 'h2', 'h3']), [
    '-R cali-x 2 -m comment --comment "cali:h2" -s 10.0.0.2/32 --jump ACCEPT',
    '-R cali-x 3 -m comment --comment "cali:h3" --jump DROP',
    '-D cali-x 4',
  ]);
});
