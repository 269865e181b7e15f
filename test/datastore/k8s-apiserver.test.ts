/**
 * The test API server's own protocol guarantees, checked over HTTP with plain fetch, so the
 * backend tests rest on a server that behaves like kube-apiserver where it matters: paged lists
 * are one snapshot even while objects change between pages, watches replay history and turn
 * selector transitions into ADDED/DELETED, compaction yields 410, bookmarks carry the revision.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestApiServer } from '../k8s-apiserver/server.js';

let s: TestApiServer;
before(async () => {
  s = await TestApiServer.start({ bookmarkIntervalMs: 100 });
});
after(async () => {
  await s.stop();
});

type List = { metadata: { resourceVersion: string; continue?: string }; items: Array<{ metadata: { name: string } }> };
const get = async (path: string) => {
  const r = await fetch(s.url + path);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

/** Reads watch lines until `until` returns true or the stream ends. */
async function watchLines(path: string, until: (lines: Array<{ type: string; object: { metadata: { name?: string; resourceVersion: string } } }>) => boolean) {
  const ac = new AbortController();
  const r = await fetch(s.url + path, { signal: ac.signal });
  assert.equal(r.status, 200);
  const lines: Array<{ type: string; object: { metadata: { name?: string; resourceVersion: string } } }> = [];
  const dec = new TextDecoder();
  let buf = '';
  const reader = r.body!.getReader();
  try {
    while (!until(lines)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  } finally {
    ac.abort();
  }
  return lines;
}

test('paged list is one snapshot even when objects change between pages', async () => {
  for (let i = 0; i < 5; i++) s.create('configmaps', { metadata: { name: `cm-${i}`, namespace: 'a' } });
  const p1 = (await get('/api/v1/namespaces/a/configmaps?limit=2')).body as unknown as List;
  assert.deepEqual(p1.items.map((i) => i.metadata.name), ['cm-0', 'cm-1']);
  s.remove('configmaps', 'a', 'cm-3');
  s.create('configmaps', { metadata: { name: 'cm-9', namespace: 'a' } });
  const names = [...p1.items.map((i) => i.metadata.name)];
  let cont = p1.metadata.continue;
  while (cont) {
    const p = (await get(`/api/v1/namespaces/a/configmaps?limit=2&continue=${cont}`)).body as unknown as List;
    assert.equal(p.metadata.resourceVersion, p1.metadata.resourceVersion);
    names.push(...p.items.map((i) => i.metadata.name));
    cont = p.metadata.continue;
  }
  assert.deepEqual(names, ['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4']);
  // After compaction the old token is 410 Expired.
  s.compact();
  const stale = await get(`/api/v1/namespaces/a/configmaps?limit=2&continue=${p1.metadata.continue}`);
  assert.equal(stale.status, 410);
  assert.equal(stale.body.reason, 'Expired');
});

test('watch replays from a revision, maps selector transitions, and sends bookmarks', async () => {
  const from = s.revision;
  s.create('pods', { metadata: { name: 'mover', namespace: 'a' }, spec: { nodeName: 'x' } });
  s.replace('pods', { metadata: { name: 'mover', namespace: 'a' }, spec: { nodeName: 'y' } });
  s.replace('pods', { metadata: { name: 'mover', namespace: 'a' }, spec: { nodeName: 'x' } });
  s.remove('pods', 'a', 'mover');
  const lines = await watchLines(`/api/v1/pods?watch=1&resourceVersion=${from}&fieldSelector=spec.nodeName%3Dy&allowWatchBookmarks=true`, (l) =>
    l.some((e) => e.type === 'BOOKMARK'),
  );
  const events = lines.filter((e) => e.type !== 'BOOKMARK').map((e) => e.type);
  assert.deepEqual(events, ['ADDED', 'DELETED'], 'moved into the selector, then out of it');
  const bm = lines.find((e) => e.type === 'BOOKMARK')!;
  assert.equal(bm.object.metadata.resourceVersion, String(s.revision));
});

test('a watch from a compacted revision gets an ERROR 410 event', async () => {
  s.create('configmaps', { metadata: { name: 'x', namespace: 'b' } });
  const old = s.revision - 1;
  s.compact();
  const lines = await watchLines(`/api/v1/configmaps?watch=1&resourceVersion=${old}`, (l) => l.length > 0);
  assert.equal(lines[0].type, 'ERROR');
  assert.equal((lines[0].object as unknown as { code: number }).code, 410);
});

test('replace with a stale resourceVersion is a 409 Conflict', async () => {
  const cm = s.create('configmaps', { metadata: { name: 'c', namespace: 'b' } });
  s.patch('configmaps', 'b', 'c', { data: { k: 'v' } });
  const r = await fetch(`${s.url}/api/v1/namespaces/b/configmaps/c`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(cm) });
  assert.equal(r.status, 409);
});
