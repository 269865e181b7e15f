/**
 * FSM unit tests with a fake clock and in-memory connections: every transition of RFC 4271 §8.2.2
 * that the speaker relies on, the timers, OPEN validation, collision resolution and GR signalling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../util/clock.js';
import { PeerFsm, type FsmConfig } from './fsm.js';
import { FsmState, type DownInfo, type FsmConnection, type FsmInput, type NotificationInfo } from './types.js';
import { CapabilityCode, MessageType, DEFAULT_CODEC_OPTIONS, type BgpMessage, type CodecOptions, type OpenMessage, type Capability } from '../wire/types.js';
import { decode, isBgpDecodeError } from '../wire/index.js';
import { encodeMessage } from './connection.js';

class FakeConn implements FsmConnection {
  sent: BgpMessage[] = [];
  closed = false;
  closedWith: NotificationInfo | undefined;
  codec: CodecOptions | undefined;
  constructor(
    readonly outgoing: boolean,
    readonly deliver: (ev: FsmInput<FsmConnection>) => void,
    readonly remoteAddress = '198.18.0.2',
    readonly localAddress = '198.18.0.1',
  ) {}
  send(msg: BgpMessage): boolean {
    this.sent.push(msg);
    return true;
  }
  setCodecOptions(opts: CodecOptions): void {
    this.codec = opts;
  }
  close(n?: NotificationInfo): void {
    if (this.closed) return;
    this.closed = true;
    this.closedWith = n;
  }
  types(): MessageType[] {
    return this.sent.map((m) => m.type);
  }
  /**
   * Delivers `m` the way TcpConnection would: encoded and decoded with the session's codec
   * options, so the codec's OPEN rules (version, hold time, identifier) apply here too.
   */
  msg(m: BgpMessage): void {
    const opts = this.codec ?? DEFAULT_CODEC_OPTIONS;
    let decoded: BgpMessage;
    try {
      decoded = decode(encodeMessage(m, opts), opts);
    } catch (e) {
      if (!isBgpDecodeError(e)) throw e;
      this.deliver({ kind: 'decode-error', conn: this, notification: { code: e.notifCode, subcode: e.notifSubcode, data: e.data }, message: e.message });
      return;
    }
    this.deliver({ kind: 'message', conn: this, msg: decoded });
  }
}

const BASE: FsmConfig = {
  localAs: 64512,
  routerId: '198.18.0.1',
  peerAs: 64512,
  peerAddress: '198.18.0.2',
  holdTime: 90,
  families: ['1/1', '2/1'],
  passive: false,
};

function peerOpen(over: Partial<OpenMessage> = {}, caps?: Capability[]): OpenMessage {
  return {
    type: MessageType.Open,
    version: 4,
    myAs: 64512,
    holdTime: 30,
    bgpId: '198.18.0.2',
    capabilities: caps ?? [
      { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
      { code: CapabilityCode.FourOctetAs, asn: 64512 },
      { code: CapabilityCode.RouteRefresh },
    ],
    ...over,
  };
}

function setup(cfg: Partial<FsmConfig> = {}) {
  const clock = new FakeClock();
  const dials: FakeConn[] = [];
  const fsm = new PeerFsm({ ...BASE, ...cfg }, {
    clock,
    dial: (deliver) => {
      const c = new FakeConn(true, deliver);
      dials.push(c);
      return c;
    },
  });
  const states: string[] = [];
  fsm.on('state', (_f, to, reason) => states.push(`${to}:${reason}`));
  const downs: DownInfo[] = [];
  fsm.on('down', (d) => downs.push(d));
  const incoming = () => {
    return new FakeConn(false, (ev) => fsm.input(ev));
  };
  return { clock, fsm, dials, states, downs, incoming };
}

function establish(t: ReturnType<typeof setup>, open = peerOpen()): FakeConn {
  t.fsm.start();
  const c = t.dials.at(-1)!;
  c.deliver({ kind: 'tcp-connected', conn: c });
  c.msg(open);
  c.msg({ type: MessageType.Keepalive });
  assert.equal(t.fsm.state, FsmState.Established);
  return c;
}

test('active peer: Idle → Connect → OpenSent → OpenConfirm → Established', () => {
  const t = setup();
  let established = 0;
  t.fsm.on('established', () => established++);
  t.fsm.start();
  assert.equal(t.fsm.state, FsmState.Connect);
  const c = t.dials[0]!;
  c.deliver({ kind: 'tcp-connected', conn: c });
  assert.equal(t.fsm.state, FsmState.OpenSent);
  assert.deepEqual(c.types(), [MessageType.Open]);
  const ours = c.sent[0] as OpenMessage;
  assert.equal(ours.holdTime, 90);
  assert.equal(ours.bgpId, '198.18.0.1');
  c.msg(peerOpen());
  assert.equal(t.fsm.state, FsmState.OpenConfirm);
  assert.deepEqual(c.types(), [MessageType.Open, MessageType.Keepalive]);
  assert.equal(c.codec?.fourOctetAs, true);
  assert.equal(c.codec?.ibgp, true);
  c.msg({ type: MessageType.Keepalive });
  assert.equal(t.fsm.state, FsmState.Established);
  assert.equal(established, 1);
  const s = t.fsm.session!;
  assert.equal(s.holdTime, 30, 'hold time is the smaller of the two');
  assert.equal(s.keepaliveTime, 10);
  assert.deepEqual([...s.families], ['1/1'], 'families are the intersection');
  assert.deepEqual(t.states, ['Connect:admin-start', 'OpenSent:tcp-connected', 'OpenConfirm:open-received', 'Established:keepalive-received']);
});

test('passive peer never dials and waits in Active for the peer', () => {
  const t = setup({ passive: true });
  t.fsm.start();
  assert.equal(t.fsm.state, FsmState.Active);
  t.clock.advance(600_000);
  assert.equal(t.dials.length, 0);
  assert.equal(t.fsm.state, FsmState.Active);
  const c = t.incoming();
  t.fsm.input({ kind: 'tcp-incoming', conn: c });
  assert.equal(t.fsm.state, FsmState.OpenSent);
  assert.deepEqual(c.types(), [MessageType.Open]);
});

test('connect failure → Active, connect-retry expiry → Connect again', () => {
  const t = setup({ connectRetryTime: 5 });
  t.fsm.start();
  const c = t.dials[0]!;
  c.deliver({ kind: 'tcp-failed', conn: c, error: 'Connection refused' });
  assert.equal(t.fsm.state, FsmState.Active);
  assert.equal(t.fsm.lastError, 'Socket: Connection refused');
  t.clock.advance(4_999);
  assert.equal(t.dials.length, 1);
  t.clock.advance(1);
  assert.equal(t.fsm.state, FsmState.Connect);
  assert.equal(t.dials.length, 2);
  // A connect that hangs is abandoned when connect-retry fires.
  t.clock.advance(5_000);
  assert.equal(t.dials.length, 3);
  assert.equal(t.dials[1]!.closed, true);
});

test('keepalives every third of the hold time; hold timer refreshed by any message', () => {
  const t = setup();
  const c = establish(t);
  const keepalives = () => c.sent.filter((m) => m.type === MessageType.Keepalive).length;
  const before = keepalives();
  t.clock.advance(10_000);
  assert.equal(keepalives(), before + 1);
  c.msg({ type: MessageType.Keepalive });
  for (let i = 0; i < 5; i++) {
    t.clock.advance(20_000);
    c.msg({ type: MessageType.Keepalive });
  }
  assert.equal(t.fsm.state, FsmState.Established, 'messages within the hold time keep the session up');
});

test('hold timer expiry sends NOTIFICATION 4/0, goes down, and retries after the idle-hold backoff', () => {
  const t = setup();
  const c = establish(t, peerOpen({}, [...peerOpen().capabilities, { code: CapabilityCode.GracefulRestart, restarting: false, notification: false, restartTime: 120, families: [] }]));
  t.clock.advance(30_000);
  assert.equal(t.fsm.state, FsmState.Idle);
  assert.equal(c.closedWith?.code, 4);
  assert.equal(c.closedWith?.subcode, 0);
  assert.equal(t.downs.length, 1);
  assert.equal(t.downs[0]!.reason, 'hold-timer-expired');
  assert.equal(t.downs[0]!.gracefulRestart, undefined, 'a NOTIFICATION ends graceful restart (RFC 4724)');
  assert.equal(t.fsm.lastError, 'Error: Hold timer expired');
  t.clock.advance(4_999);
  assert.equal(t.fsm.state, FsmState.Idle);
  t.clock.advance(1);
  assert.equal(t.fsm.state, FsmState.Connect);
});

test('TCP loss with a GR-capable peer asks for helper mode; a peer reconnect replaces the session', () => {
  const t = setup();
  const gr: Capability = { code: CapabilityCode.GracefulRestart, restarting: false, notification: false, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] };
  const c = establish(t, peerOpen({}, [...peerOpen().capabilities, gr]));
  c.deliver({ kind: 'tcp-closed', conn: c, error: 'Connection reset by peer' });
  assert.equal(t.downs[0]!.gracefulRestart?.restartTime, 120);
  assert.equal(t.downs[0]!.gracefulRestart?.families.get('1/1'), true);

  const t2 = setup();
  const c2 = establish(t2, peerOpen({}, [...peerOpen().capabilities, gr]));
  const n = t2.incoming();
  t2.fsm.input({ kind: 'tcp-incoming', conn: n });
  assert.equal(t2.fsm.state, FsmState.Established, 'undecided until the new OPEN arrives');
  assert.deepEqual(n.types(), [MessageType.Open]);
  n.msg(peerOpen({}, [...peerOpen().capabilities, { ...gr, restarting: true }]));
  assert.equal(t2.fsm.state, FsmState.OpenConfirm, 'the restarted peer\'s OPEN is processed on the new connection');
  assert.equal(c2.closed, true);
  assert.equal(c2.closedWith, undefined);
  assert.equal(t2.downs[0]!.reason, 'peer-reconnected');
  assert.ok(t2.downs[0]!.gracefulRestart);
  assert.deepEqual(n.types(), [MessageType.Open, MessageType.Keepalive], 'one OPEN on the new connection');
});

test('a colliding connection while Established whose OPEN has no R bit is refused with Cease/7', () => {
  const gr: Capability = { code: CapabilityCode.GracefulRestart, restarting: false, notification: false, restartTime: 0, families: [] };
  const t = setup();
  const c = establish(t, peerOpen({}, [...peerOpen().capabilities, gr]));
  const n = t.incoming();
  t.fsm.input({ kind: 'tcp-incoming', conn: n });
  n.msg(peerOpen({}, [...peerOpen().capabilities, gr]));
  assert.equal(t.fsm.state, FsmState.Established);
  assert.equal(c.closed, false);
  assert.deepEqual([n.closedWith?.code, n.closedWith?.subcode], [6, 7]);
  assert.equal(t.downs.length, 0);
});

test('without GR a second connection while Established is refused with Cease/7', () => {
  const t = setup();
  establish(t);
  const n = t.incoming();
  t.fsm.input({ kind: 'tcp-incoming', conn: n });
  n.msg(peerOpen());
  assert.equal(t.fsm.state, FsmState.Established);
  assert.deepEqual([n.closedWith?.code, n.closedWith?.subcode], [6, 7]);
});

for (const [name, open, cfg, sub] of [
  ['version 3', peerOpen({ version: 3 }), {}, 1],
  ['hold time 2', peerOpen({ holdTime: 2 }), {}, 6],
  ['wrong AS', peerOpen({ myAs: 64513 }, []), {}, 2],
  ['wrong 4-octet AS capability', peerOpen({}, [{ code: CapabilityCode.FourOctetAs, asn: 4200000000 }]), {}, 2],
  ['BGP identifier 0.0.0.0', peerOpen({ bgpId: '0.0.0.0' }), {}, 3],
  ['our own identifier on iBGP', peerOpen({ bgpId: '198.18.0.1' }), {}, 3],
  ['AS_TRANS in My AS without the 4-octet AS capability', peerOpen({ myAs: 23456 }, []), { peerAs: 23456 }, 2],
  ['My AS disagreeing with the 4-octet AS capability', peerOpen({ myAs: 64999 }, [{ code: CapabilityCode.FourOctetAs, asn: 64512 }]), {}, 2],
] as const) {
  test(`OPEN with ${name} is rejected with OPEN error subcode ${sub}`, () => {
    const t = setup(cfg);
    t.fsm.start();
    const c = t.dials[0]!;
    c.deliver({ kind: 'tcp-connected', conn: c });
    c.msg(open);
    assert.equal(t.fsm.state, FsmState.Idle);
    assert.deepEqual([c.closedWith?.code, c.closedWith?.subcode], [2, sub]);
  });
}

test('each session gets its own attribute decode cache in the negotiated codec options', () => {
  const t = setup();
  const c = establish(t);
  const first = t.fsm.session!.codec.attrCache;
  assert.ok(first instanceof Map);
  assert.equal(c.codec?.attrCache, first, 'the connection decodes with the session cache');
  t.fsm.stop();
  const t2 = setup();
  establish(t2);
  assert.notEqual(t2.fsm.session!.codec.attrCache, first);
});

test('4-octet AS peer: AS_TRANS in My AS with the capability is accepted', () => {
  const t = setup({ peerAs: 4200000001 });
  establish(t, peerOpen({ myAs: 23456 }, [{ code: CapabilityCode.FourOctetAs, asn: 4200000001 }]));
  assert.equal(t.fsm.session!.peerAs, 4200000001);
  assert.equal(t.fsm.session!.ibgp, false);
});

test('an UPDATE in OpenSent is an FSM error (RFC 6608 subcode 1)', () => {
  const t = setup();
  t.fsm.start();
  const c = t.dials[0]!;
  c.deliver({ kind: 'tcp-connected', conn: c });
  c.msg({ type: MessageType.Update, withdrawn: [], attrs: {}, nlri: [] });
  assert.deepEqual([c.closedWith?.code, c.closedWith?.subcode], [5, 1]);
});

test('a decode error sends the codec\'s NOTIFICATION and goes Idle', () => {
  const t = setup();
  const c = establish(t);
  c.deliver({ kind: 'decode-error', conn: c, notification: { code: 3, subcode: 1, data: new Uint8Array() }, message: 'bad' });
  assert.equal(t.fsm.state, FsmState.Idle);
  assert.deepEqual([c.closedWith?.code, c.closedWith?.subcode], [3, 1]);
  assert.deepEqual([t.downs[0]!.sent?.code, t.downs[0]!.reason], [3, 'message-error']);
});

test('collision in OpenConfirm: higher local id keeps our outgoing connection', () => {
  const t = setup({ routerId: '198.18.0.9' });
  t.fsm.start();
  const c = t.dials[0]!;
  c.deliver({ kind: 'tcp-connected', conn: c });
  c.msg(peerOpen());
  const n = t.incoming();
  t.fsm.input({ kind: 'tcp-incoming', conn: n });
  assert.deepEqual([n.closedWith?.code, n.closedWith?.subcode], [6, 7]);
  assert.equal(t.fsm.state, FsmState.OpenConfirm);
  assert.equal(c.closed, false);
});

test('collision in OpenConfirm: lower local id gives way to the peer\'s connection', () => {
  const t = setup({ routerId: '198.18.0.1' });
  t.fsm.start();
  const c = t.dials[0]!;
  c.deliver({ kind: 'tcp-connected', conn: c });
  c.msg(peerOpen({ bgpId: '198.18.0.200' }));
  const n = t.incoming();
  t.fsm.input({ kind: 'tcp-incoming', conn: n });
  assert.deepEqual([c.closedWith?.code, c.closedWith?.subcode], [6, 7]);
  assert.equal(t.fsm.state, FsmState.OpenSent);
  assert.deepEqual(n.types(), [MessageType.Open]);
  n.msg(peerOpen({ bgpId: '198.18.0.200' }));
  n.msg({ type: MessageType.Keepalive });
  assert.equal(t.fsm.state, FsmState.Established);
});

test('collision in OpenSent with the peer id unknown: decided when the new connection\'s OPEN arrives', () => {
  const t = setup({ routerId: '198.18.0.1' });
  t.fsm.start();
  const c = t.dials[0]!;
  c.deliver({ kind: 'tcp-connected', conn: c });
  const n = t.incoming();
  t.fsm.input({ kind: 'tcp-incoming', conn: n });
  assert.deepEqual(n.types(), [MessageType.Open], 'OPEN exchange runs on the second connection');
  n.msg(peerOpen({ bgpId: '198.18.0.200' }));
  assert.equal(c.closedWith?.subcode, 7, 'our outgoing connection loses to the higher peer id');
  assert.equal(t.fsm.state, FsmState.OpenConfirm);
  assert.deepEqual(n.types(), [MessageType.Open, MessageType.Keepalive], 'exactly one OPEN per connection');
  n.msg({ type: MessageType.Keepalive });
  assert.equal(t.fsm.state, FsmState.Established);
});

test('idle-hold backoff doubles per error up to 30 s', () => {
  const t = setup();
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    t.fsm.start();
    const c = t.dials.at(-1)!;
    c.deliver({ kind: 'tcp-connected', conn: c });
    c.msg(peerOpen({ version: 3 }));
    const at = t.clock.now();
    while (t.fsm.state === FsmState.Idle) t.clock.advance(1000);
    waits.push(t.clock.now() - at);
    t.fsm.stop();
  }
  assert.deepEqual(waits, [5000, 10000, 20000, 30000, 30000]);
});

test('stop sends Cease/Administrative Shutdown; silent stop just closes (for graceful restart)', () => {
  const t = setup();
  const c = establish(t);
  t.fsm.stop();
  assert.deepEqual([c.closedWith?.code, c.closedWith?.subcode], [6, 2]);
  assert.equal(t.fsm.state, FsmState.Idle);
  t.clock.advance(600_000);
  assert.equal(t.fsm.state, FsmState.Idle, 'stays down after an administrative stop');

  const t2 = setup();
  const c2 = establish(t2);
  t2.fsm.stop({ silent: true });
  assert.equal(c2.closed, true);
  assert.equal(c2.closedWith, undefined);
});

test('updates and route refresh are emitted only in Established', () => {
  const t = setup();
  const got: string[] = [];
  t.fsm.on('update', () => got.push('update'));
  t.fsm.on('route-refresh', () => got.push('rr'));
  const c = establish(t);
  c.msg({ type: MessageType.Update, withdrawn: [], attrs: {}, nlri: [{ prefix: '10.0.0.0/24' }] });
  c.msg({ type: MessageType.RouteRefresh, afi: 1, safi: 1, subtype: 0 });
  assert.deepEqual(got, ['update', 'rr']);
});

test('GR capability: R bit when restarting, restart time, and the session records it', () => {
  const t = setup({ gracefulRestart: { restartTime: 120, restarting: true } });
  t.fsm.start();
  const c = t.dials[0]!;
  c.deliver({ kind: 'tcp-connected', conn: c });
  const gr = (c.sent[0] as OpenMessage).capabilities.find((x) => x.code === CapabilityCode.GracefulRestart);
  assert.ok(gr && 'restarting' in gr);
  assert.equal(gr.restarting, true);
  assert.equal(gr.restartTime, 120);
});

test('an exception in an event listener resets only this session (Cease/8), the FSM keeps working', () => {
  const t = setup();
  t.fsm.on('update', () => {
    throw new Error('boom');
  });
  const c = establish(t);
  c.msg({ type: MessageType.Update, withdrawn: [], attrs: {}, nlri: [{ prefix: '10.0.0.0/24' }] });
  assert.equal(t.fsm.state, FsmState.Idle);
  assert.deepEqual([c.closedWith?.code, c.closedWith?.subcode], [6, 8]);
  t.clock.advance(5_000);
  assert.equal(t.fsm.state, FsmState.Connect, 'retries after the backoff');
});
