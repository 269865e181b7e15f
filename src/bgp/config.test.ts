/** speaker.yaml validation: every problem reported with its path, defaults filled in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpeakerConfig } from './config.js';
import { isUserError } from '../util/errors.js';

test('a minimal config gets Calico-like defaults', () => {
  const c = parseSpeakerConfig({ routerId: '198.18.0.1', asNumber: 64512, peers: [{ address: '198.18.0.2', asNumber: 64512 }] });
  assert.deepEqual(c.listen, { address: '0.0.0.0', port: 179 });
  assert.equal(c.peers[0]!.port, 179);
  assert.equal(c.peers[0]!.holdTime, 90);
  assert.equal(c.peers[0]!.passive, false);
  assert.equal(c.peers[0]!.type, 'global');
});

test('errors name the path and the problem, all at once', () => {
  try {
    parseSpeakerConfig(
      {
        routerId: 'fd00::1',
        asNumber: 0,
        peers: [
          { address: '198.18.0.2', asNumber: 64512, holdTime: 2 },
          { address: '198.18.0.2', asNumber: 64512, keepaliveTime: 60, holdTime: 90 },
          { address: 'nope', asNumber: 64512, bogus: true },
        ],
        announce: [{ prefix: '10.0.0.0/33' }, { prefix: '10.0.0.0/24', communities: ['70000:1'] }],
      },
      'speaker.yaml',
    );
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isUserError(e));
    const m = e.message;
    assert.match(m, /^speaker\.yaml is invalid:/);
    assert.match(m, /routerId: must be an IPv4 address/);
    assert.match(m, /asNumber: /);
    assert.match(m, /peers\[0\]\.holdTime: must be 0 or at least 3 seconds/);
    assert.match(m, /peers\[2\]\.address: must be an IPv4 or IPv6 address/);
    assert.match(m, /peers\[2\]: .*bogus/);
    assert.match(m, /announce\[0\]\.prefix: must be a CIDR prefix/);
    assert.match(m, /announce\[1\]\.communities\[0\]: both halves must be at most 65535/);
  }
});

test('duplicate peers and a keepalive longer than a third of the hold time are refused', () => {
  assert.throws(
    () =>
      parseSpeakerConfig({
        routerId: '198.18.0.1',
        asNumber: 64512,
        peers: [
          { address: '198.18.0.2', asNumber: 64512, keepaliveTime: 60 },
          { address: '198.18.0.2', asNumber: 64513 },
        ],
      }),
    /peers\[0\]\.keepaliveTime: must be at most a third of holdTime[\s\S]*peers\[1\]\.address: duplicate peer 198\.18\.0\.2/,
  );
});
