/**
 * Control socket round trips over a real UNIX socket in a temp directory: the happy path, every
 * way a client can misbehave, and the ways a caller finds no agent.
 */
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer, ControlRemoteError, MAX_REQUEST_BYTES, controlCall } from './control.js';
import { UserError } from '../util/errors.js';
import { silentLogger } from '../util/log.js';

/** Sends raw bytes and collects `count` response lines (or whatever arrives before the server closes). */
function rawExchange(path: string, payload: string | Buffer, count: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = '';
    const lines: unknown[] = [];
    const done = (): void => {
      sock.destroy();
      resolve(lines);
    };
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        if (lines.length >= count) done();
      }
    });
    sock.on('end', done);
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // The server may reset a connection that kept writing after an oversize request.
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') done();
      else reject(e);
    });
  });
}

describe('ControlServer', () => {
  let dir: string;
  let path: string;
  let server: ControlServer;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-control-'));
    path = join(dir, 'sub', 'control.sock');
    server = new ControlServer({ path, logger: silentLogger });
    server.handle('echo', (p) => p);
    server.handle('add', async (p) => {
      const { a, b } = p as { a: number; b: number };
      await new Promise((r) => setTimeout(r, 5));
      return a + b;
    });
    server.handle('nothing', () => undefined);
    server.handle('fails.user', () => {
      throw new UserError('no peer named x', { code: 'E_NO_PEER' });
    });
    server.handle('fails.bug', () => {
      throw new TypeError('cannot read properties of undefined');
    });
    await server.listen();
  });

  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('round trip with params, async handler and undefined result', async () => {
    assert.deepEqual(await controlCall(path, 'echo', { x: [1, 'two'] }), { x: [1, 'two'] });
    assert.equal(await controlCall<number>(path, 'add', { a: 2, b: 3 }), 5);
    assert.equal(await controlCall(path, 'nothing'), null);
  });

  test('socket file is mode 0600 and its directory was created', () => {
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });

  test('built-in methods lists every method', async () => {
    assert.deepEqual(await controlCall(path, 'methods'), ['add', 'echo', 'fails.bug', 'fails.user', 'methods', 'nothing']);
  });

  test('registering a method twice is refused', () => {
    assert.throws(() => server.handle('echo', () => 1), /already registered/);
  });

  test('handler UserError keeps its code; unexpected errors become E_INTERNAL', async () => {
    await assert.rejects(controlCall(path, 'fails.user'), (e: unknown) => {
      assert.ok(e instanceof ControlRemoteError);
      assert.equal(e.code, 'E_NO_PEER');
      assert.match(e.message, /fails\.user: no peer named x/);
      return true;
    });
    await assert.rejects(controlCall(path, 'fails.bug'), (e: unknown) => {
      assert.ok(e instanceof ControlRemoteError);
      assert.equal(e.code, 'E_INTERNAL');
      return true;
    });
  });

  test('unknown method names the known ones', async () => {
    await assert.rejects(controlCall(path, 'bgp.nope'), (e: unknown) => {
      assert.ok(e instanceof ControlRemoteError);
      assert.equal(e.code, 'E_NO_METHOD');
      assert.match(e.message, /known: add, echo/);
      return true;
    });
  });

  test('malformed JSON and invalid requests are answered and the connection keeps working', async () => {
    const lines = await rawExchange(
      path,
      '{not json\n[1,2]\n{"id":{},"method":"echo"}\n{"id":7}\n\n{"id":8,"method":"echo","params":"ok"}\n',
      5,
    );
    assert.deepEqual(
      lines.map((l) => {
        const r = l as { id: unknown; error?: { code: string }; result?: unknown };
        return [r.id, r.error?.code ?? r.result];
      }),
      [
        [null, 'E_PARSE'],
        [null, 'E_INVALID_REQUEST'],
        [null, 'E_INVALID_REQUEST'],
        [7, 'E_INVALID_REQUEST'],
        [8, 'ok'],
      ],
    );
  });

  test('a request split across many writes is reassembled', async () => {
    const result = await new Promise<unknown>((resolve, reject) => {
      const sock = net.connect(path);
      const req = JSON.stringify({ id: 'abc', method: 'echo', params: 'split' }) + '\n';
      sock.on('connect', async () => {
        for (const ch of req) {
          sock.write(ch);
          await new Promise((r) => setImmediate(r));
        }
      });
      sock.on('data', (d: Buffer) => {
        sock.destroy();
        resolve(JSON.parse(d.toString('utf8')));
      });
      sock.on('error', reject);
    });
    assert.deepEqual(result, { id: 'abc', result: 'split' });
  });

  test('an oversize request is refused with E_TOO_LARGE and the server keeps serving', async () => {
    const big = Buffer.alloc(MAX_REQUEST_BYTES + 10, 0x61); // no newline: never a complete line
    const lines = await rawExchange(path, big, 1);
    assert.equal(lines.length, 1);
    assert.equal((lines[0] as { error: { code: string } }).error.code, 'E_TOO_LARGE');
    assert.equal(await controlCall(path, 'echo', 1), 1);
  });

  test('a second server on the same path is refused while the first is live', async () => {
    const other = new ControlServer({ path, logger: silentLogger });
    await assert.rejects(other.listen(), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /another process is already listening/);
      return true;
    });
    // The live server's socket was left alone.
    assert.equal(await controlCall(path, 'echo', 'still here'), 'still here');
  });

  test('close removes the socket file', async () => {
    await server.close();
    assert.equal(existsSync(path), false);
    await assert.rejects(controlCall(path, 'echo'), /does not exist; is the agent running\?/);
  });
});

/** Starts a child that listens on `path`, then SIGKILLs it so the socket file stays with no listener. */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.stdout.write('ready'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`listener child exited early with ${code}`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('ControlServer stale socket', () => {
  test('a stale socket file left by a dead process is replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tortie-control-'));
    const path = join(dir, 'control.sock');
    try {
      // A process killed with SIGKILL leaves its socket file behind with nobody listening.
      await leaveStaleSocket(path);
      assert.ok(statSync(path).isSocket());
      await assert.rejects(controlCall(path, 'methods'), /nothing listens on socket/);

      const server = new ControlServer({ path, logger: silentLogger });
      await server.listen();
      try {
        assert.deepEqual(await controlCall(path, 'methods'), ['methods']);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a path that is a regular file is refused, not deleted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tortie-control-'));
    const path = join(dir, 'control.sock');
    try {
      writeFileSync(path, 'important');
      const server = new ControlServer({ path, logger: silentLogger });
      await assert.rejects(server.listen(), /exists and is not a socket/);
      assert.equal(statSync(path).isFile(), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('controlCall without an agent', () => {
  test('absent socket names the path and asks whether the agent runs', async () => {
    await assert.rejects(controlCall('/nonexistent/tortie/control.sock', 'methods'), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /socket \/nonexistent\/tortie\/control\.sock does not exist; is the agent running\?/);
      return true;
    });
  });

  test('a listener that never answers times out with a UserError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tortie-control-'));
    const path = join(dir, 'mute.sock');
    const conns: net.Socket[] = [];
    const mute = net.createServer((c) => conns.push(c));
    await new Promise<void>((r) => mute.listen(path, r));
    try {
      await assert.rejects(controlCall(path, 'methods', undefined, 100), (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /no answer to methods .* within 100 ms/);
        return true;
      });
    } finally {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
