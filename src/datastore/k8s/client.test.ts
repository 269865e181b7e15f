/**
 * The watch stream reader against a scripted local HTTP server: events split across chunks at
 * every offset, several per chunk, ERROR events passed up, malformed lines and cut connections
 * ending the stream as errors, a clean end as clean, silence as death, non-200 as K8sApiError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { K8sApiError, KubeClient, type StreamEnd, type WatchEvent } from './client.js';

type Script = (res: http.ServerResponse) => void | Promise<void>;

async function withServer(script: Script, fn: (client: KubeClient) => Promise<void>): Promise<void> {
  const server = http.createServer((_req, res) => void script(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    await fn(KubeClient.forServer(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function collect(client: KubeClient, silenceMs?: number): Promise<{ events: WatchEvent[]; end: StreamEnd; opened: boolean }> {
  return new Promise((resolve) => {
    const events: WatchEvent[] = [];
    let opened = false;
    client.watch('/api/v1/pods', {}, { onOpen: () => (opened = true), onEvent: (e) => events.push(e), onEnd: (end) => resolve({ events, end, opened }) }, silenceMs);
  });
}

const lines = [
  { type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '5' } } },
  { type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } },
  { type: 'DELETED', object: { metadata: { name: 'a', resourceVersion: '10' } } },
];
const wire = lines.map((l) => JSON.stringify(l) + '\n').join('');

test('events split across chunks at every offset are read intact', async () => {
  for (let cut = 1; cut < wire.length; cut += 7) {
    await withServer(
      async (res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(wire.slice(0, cut));
        await new Promise((r) => setTimeout(r, 2));
        res.end(wire.slice(cut));
      },
      async (client) => {
        const r = await collect(client);
        assert.equal(r.opened, true);
        assert.deepEqual(r.events, lines, `cut at ${cut}`);
        assert.deepEqual(r.end, { type: 'clean' });
      },
    );
  }
});

test('a malformed line ends the stream with an error naming it', async () => {
  await withServer(
    (res) => {
      res.writeHead(200);
      res.write('{"type":"ADDED","object":{}}\nnot json\n');
    },
    async (client) => {
      const r = await collect(client);
      assert.equal(r.events.length, 1);
      assert.equal(r.end.type, 'error');
      assert.match((r.end as { error: Error }).error.message, /undecodable event line "not json"/);
    },
  );
});

test('a connection cut mid-stream is an error, not a clean end', async () => {
  await withServer(
    (res) => {
      res.writeHead(200);
      res.write(wire);
      setTimeout(() => res.socket?.destroy(), 10);
    },
    async (client) => {
      const r = await collect(client);
      assert.equal(r.events.length, 3);
      assert.equal(r.end.type, 'error');
    },
  );
});

test('silence beyond the bound ends the stream as dead', async () => {
  await withServer(
    (res) => {
      res.writeHead(200);
      res.write(wire);
    },
    async (client) => {
      const r = await collect(client, 150);
      assert.equal(r.events.length, 3);
      assert.match((r.end as { error: Error }).error.message, /no data for 150 ms/);
    },
  );
});

test('a non-200 answer is a K8sApiError carrying the Status', async () => {
  await withServer(
    (res) => {
      res.writeHead(410, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5)' }));
    },
    async (client) => {
      const r = await collect(client);
      assert.equal(r.opened, false);
      const e = (r.end as { error: Error }).error;
      assert.ok(e instanceof K8sApiError && e.isGone, String(e));
      assert.match(e.message, /too old resource version/);
    },
  );
});

test('aborting a watch before its request is open leaves no unhandled error behind', async () => {
  await withServer(
    (res) => {
      res.writeHead(200);
      res.write(wire);
    },
    async (client) => {
      const errors: unknown[] = [];
      const onError = (e: unknown) => errors.push(e);
      process.on('uncaughtException', onError);
      try {
        for (let i = 0; i < 20; i++) {
          const h = client.watch('/api/v1/pods', {}, { onOpen: () => undefined, onEvent: () => undefined, onEnd: () => assert.fail('onEnd after abort') });
          h.abort();
        }
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        process.off('uncaughtException', onError);
      }
      assert.deepEqual(errors, []);
    },
  );
});
