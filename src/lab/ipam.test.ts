import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateInBlock, blockAllocatedCount, cidrContains, newBlock, poolBlocks, releaseHandleInBlock } from './ipam.js';
import { UserError } from '../util/errors.js';

test('poolBlocks splits a pool into blocks in address order', () => {
  const b = poolBlocks('10.65.0.0/16', 26);
  assert.equal(b.length, 1024);
  assert.equal(b[0], '10.65.0.0/26');
  assert.equal(b[1], '10.65.0.64/26');
  assert.equal(b[1023], '10.65.255.192/26');
  assert.throws(() => poolBlocks('10.65.0.1/16', 26), UserError);
  assert.throws(() => poolBlocks('10.65.0.0/16', 8), UserError);
});

test('a new block has every ordinal free and libcalico-go field names', () => {
  const b = newBlock('10.65.0.64/26', 'node-1');
  assert.deepEqual(Object.keys(b).sort(), [
    'affinity', 'allocations', 'attributes', 'cidr', 'deleted', 'sequenceNumber', 'sequenceNumberForAllocation', 'unallocated',
  ]);
  assert.equal(b.affinity, 'host:node-1');
  assert.equal(b.allocations.length, 64);
  assert.deepEqual(b.unallocated.slice(0, 3), [0, 1, 2]);
});

test('allocate and release: distinct addresses, attributes compacted, released ordinals reused last', () => {
  const b = newBlock('10.65.0.64/26', 'node-1');
  const a1 = allocateInBlock(b, 'h1', { pod: 'a' });
  const a2 = allocateInBlock(b, 'h2', { pod: 'b' });
  const a3 = allocateInBlock(b, 'h3', { pod: 'c' });
  assert.deepEqual([a1, a2, a3], ['10.65.0.64', '10.65.0.65', '10.65.0.66']);
  assert.ok(cidrContains('10.65.0.64/26', a3!));
  assert.equal(releaseHandleInBlock(b, 'h2'), 1);
  assert.equal(blockAllocatedCount(b), 2);
  assert.equal(b.allocations[1], null);
  // Attribute of h3 moved from index 2 to 1, and ordinal 2 follows it.
  assert.equal(b.attributes.length, 2);
  assert.equal(b.attributes[b.allocations[2]!]!.handle_id, 'h3');
  assert.equal(b.unallocated.at(-1), 1);
  assert.equal(b.sequenceNumberForAllocation['1'], undefined);
  assert.equal(releaseHandleInBlock(b, 'nope'), 0);
});

test('a full block allocates nothing', () => {
  const b = newBlock('10.65.0.0/30', 'n');
  for (let i = 0; i < 4; i++) assert.ok(allocateInBlock(b, `h${i}`, {}));
  assert.equal(allocateInBlock(b, 'x', {}), undefined);
});
