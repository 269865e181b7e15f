import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpretClientOutput, parsePeerLine } from './traffic.js';

test('the listener answer: source address and port, IPv4-mapped given as IPv4', () => {
  assert.deepEqual(parsePeerLine('tortie-peer 10.65.0.3 40112\n'), { address: '10.65.0.3', port: 40112 });
  assert.deepEqual(parsePeerLine('tortie-peer ::ffff:198.18.0.11 5\n'), { address: '198.18.0.11', port: 5 });
  assert.deepEqual(parsePeerLine('tortie-peer fd00::1 5'), { address: 'fd00::1', port: 5 });
  assert.equal(parsePeerLine('SSH-2.0-OpenSSH_9.6\r\n'), undefined);
  assert.equal(parsePeerLine(''), undefined);
  assert.equal(parsePeerLine('tortie-peer 10.0.0.1'), undefined);
});

test('client reports: connected and answered, refused, unreachable, timed out', () => {
  const ok = interpretClientOutput('{"connected":true,"reply":"tortie-peer 10.65.0.3 40112\\n"}\n', 2000);
  assert.deepEqual(ok, { ok: true, peerSeen: '10.65.0.3' });

  assert.deepEqual(interpretClientOutput('{"connected":false,"reply":"","code":"ECONNREFUSED","message":"connect ECONNREFUSED 10.65.0.3:81"}', 2000), {
    ok: false,
    failure: 'refused',
    error: 'refused (ECONNREFUSED: connect ECONNREFUSED 10.65.0.3:81)',
  });
  assert.equal(interpretClientOutput('{"connected":false,"reply":"","code":"EHOSTUNREACH","message":"x"}', 2000).failure, 'unreachable');
  assert.equal(interpretClientOutput('{"connected":false,"reply":"","code":"ENETUNREACH","message":"x"}', 2000).failure, 'unreachable');
  assert.equal(interpretClientOutput('{"connected":true,"reply":"","code":"ECONNRESET","message":"x"}', 2000).failure, 'reset');
  assert.deepEqual(interpretClientOutput('{"connected":false,"reply":"","code":"TIMEOUT"}', 1500), {
    ok: false,
    failure: 'timeout',
    error: 'no answer within 1500 ms',
  });
  assert.deepEqual(interpretClientOutput('{"connected":true,"reply":"","code":"NOREPLY"}', 1500), {
    ok: false,
    failure: 'no-reply',
    error: 'connected, but no answer within 1500 ms',
  });
});

test('client reports: a foreign listener counts when no answer is expected, a wrong answer fails when one is', () => {
  assert.deepEqual(interpretClientOutput('{"connected":true,"reply":""}', 2000, false), { ok: true });
  assert.deepEqual(interpretClientOutput('{"connected":true,"reply":"SSH-2.0-x\\r\\n"}', 2000), {
    ok: false,
    failure: 'error',
    error: 'unexpected answer "SSH-2.0-x\\r\\n"',
  });
  // Only the last line is the report (Node may print warnings before it on stdout).
  assert.equal(interpretClientOutput('warning: something\n{"connected":true,"reply":"tortie-peer 1.2.3.4 9\\n"}\n', 2000).peerSeen, '1.2.3.4');
  assert.equal(interpretClientOutput('', 2000).failure, 'error');
  assert.equal(interpretClientOutput('{"connected":false,"reply":"","code":"EWHATEVER","message":"odd"}', 2000).error, 'failed (EWHATEVER: odd)');
});
