/**
 * Replays the shared malformed-message corpus (one or more cases per row of
 * shared/bgp-robustness.md) through the Framer and `decode`, asserting each exact outcome.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CORPUS_IBGP_AS,
  CORPUS_LOCAL_ID,
  CORPUS_PEER_AS,
  MALFORMED_CORPUS,
  type CorpusCase,
} from '../../../test/bgp/malformed-corpus.js';
import { Framer } from './framer.js';
import { decode } from './decode.js';
import { checkOpen } from './open.js';
import { isEndOfRib } from './update.js';
import { encodeUpdate } from './encode-update.js';
import { BgpDecodeError } from './errors.js';
import { MessageType, type BgpMessage, type UpdateMessage } from './types.js';
import { toHex } from './test-util.js';

function run(c: CorpusCase): BgpMessage {
  const frames = new Framer({ extendedMessages: c.opts.extendedMessages }).push(c.bytes);
  assert.equal(frames.length, 1, 'the corpus message frames as exactly one message');
  const m = decode(frames[0]!, c.opts);
  if (c.stage === 'open') {
    assert.equal(m.type, MessageType.Open);
    if (m.type === MessageType.Open) checkOpen(m, { peerAs: c.opts.ibgp ? CORPUS_IBGP_AS : CORPUS_PEER_AS, localBgpId: CORPUS_LOCAL_ID, ibgp: c.opts.ibgp });
  }
  return m;
}

test('corpus covers every row of bgp-robustness.md', () => {
  const rows = new Set(MALFORMED_CORPUS.map((c) => c.id));
  for (let i = 1; i <= 31; i++) assert.ok(rows.has(i), `row ${i} has a case`);
});

for (const c of MALFORMED_CORPUS) {
  test(`row ${c.id}: ${c.name}`, () => {
    const e = c.expect;
    if (e.kind === 'reset') {
      assert.throws(
        () => run(c),
        (err: unknown) => {
          assert.ok(err instanceof BgpDecodeError, `expected BgpDecodeError, got ${String(err)}`);
          assert.equal(err.action, 'session-reset');
          assert.deepEqual([err.notifCode, err.notifSubcode], [e.code, e.subcode], err.message);
          if (e.data) assert.equal(toHex(err.data), toHex(e.data));
          assert.ok(err.data.length <= c.bytes.length, 'data never longer than what was received');
          return true;
        },
      );
      return;
    }
    const m = run(c);
    if (c.stage === 'open') return assert.equal(e.kind, 'ok');
    assert.equal(m.type, MessageType.Update);
    const u = m as UpdateMessage;
    if (e.kind === 'ok') {
      assert.equal(u.treatAsWithdraw, undefined);
      assert.equal(u.diagnostics, undefined, JSON.stringify(u.diagnostics));
      // Whatever decoded cleanly re-encodes to something that decodes the same.
      const again = decode(encodeUpdate(u, c.opts), c.opts) as UpdateMessage;
      const strip = ({ attrsKey: _k, ...rest }: UpdateMessage) => rest;
      // Unknown transitive attributes come back with the Partial bit: compare without flags.
      const norm = (x: UpdateMessage) => ({ ...strip(x), attrs: { ...x.attrs, unknown: x.attrs.unknown?.map((a) => ({ type: a.type, value: a.value })) } });
      assert.deepEqual(norm(again), norm(u));
      return;
    }
    const d = u.diagnostics?.find((x) => x.code === e.diagnostic);
    assert.ok(d, `diagnostic ${e.diagnostic} expected, got ${JSON.stringify(u.diagnostics?.map((x) => x.code))}`);
    assert.equal(d.action, e.kind);
    if (e.kind === 'treat-as-withdraw') {
      assert.equal(u.treatAsWithdraw, true);
      assert.deepEqual(u.attrs, {}, 'attributes of a withdrawn UPDATE are not handed on');
    } else {
      assert.notEqual(u.treatAsWithdraw, true, JSON.stringify(u.diagnostics));
    }
    assert.equal(isEndOfRib(u), undefined, 'a malformed UPDATE is never End-of-RIB');
  });
}

test('row 10: the NLRI after an overrunning attribute is still withdrawn', () => {
  const c = MALFORMED_CORPUS.find((x) => x.id === 10)!;
  const u = decode(c.bytes, c.opts) as UpdateMessage;
  assert.deepEqual(u.nlri, [{ prefix: '10.65.0.0/24' }]);
});

test('row 22: the first ORIGIN wins', () => {
  const c = MALFORMED_CORPUS.find((x) => x.id === 22)!;
  assert.equal((decode(c.bytes, c.opts) as UpdateMessage).attrs.origin, 0);
});

test('row 30: AS4_PATH merged regardless of attribute order', () => {
  const c = MALFORMED_CORPUS.find((x) => x.id === 30 && x.expect.kind === 'ok')!;
  assert.deepEqual((decode(c.bytes, c.opts) as UpdateMessage).attrs.asPath, [{ type: 2, asns: [65001, 65536] }]);
});

test('row 31: a 300-ASN path re-encodes as valid segments of at most 255', () => {
  const c = MALFORMED_CORPUS.find((x) => x.id === 31)!;
  const u = decode(c.bytes, c.opts) as UpdateMessage;
  const out = encodeUpdate(u, c.opts);
  assert.equal(toHex(out), toHex(c.bytes), 'our encoder emits the same 255 + 45 split');
});
