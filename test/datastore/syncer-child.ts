/**
 * A felix syncer in its own process, for tests that must run it inside a network namespace (the
 * test process stays in the root namespace). Reads ETCD_ENDPOINTS; writes JSON lines to stdout:
 * every update batch and status change, and answers `health`, `metrics`, `model` on stdin.
 */
import { createInterface } from 'node:readline';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/util/log.js';
import { ResourceCache } from '../../src/datastore/cache.js';
import { EtcdBackend } from '../../src/datastore/etcd/backend.js';
import { etcdConfigFromEnv } from '../../src/datastore/etcd/options.js';
import { felixScopes } from '../../src/datastore/syncer.js';
import { WatcherSyncer } from '../../src/datastore/watchersyncer.js';

const out = (m: unknown) => process.stdout.write(`${JSON.stringify(m)}\n`);
const registry = new Registry();
const backend = new EtcdBackend({ config: etcdConfigFromEnv() });
const syncer = new WatcherSyncer({
  name: 'felix',
  backend,
  scopes: felixScopes('etcdv3'),
  registry,
  logger: createLogger({ level: process.env.TT_LOG_LEVEL ?? 'info', destination: process.stderr as never }),
  backoff: { initialMs: Number(process.env.TT_BACKOFF_INITIAL_MS ?? 250), maxMs: Number(process.env.TT_BACKOFF_MAX_MS ?? 2000) },
});
const cache = new ResourceCache().attach(syncer);
syncer.onUpdates((b) => out({ t: 'updates', batch: b.map((u) => ({ type: u.type, key: u.key, revision: u.revision })) }));
syncer.onStatus((s) => out({ t: 'status', status: s }));
syncer.start();

createInterface({ input: process.stdin }).on('line', (line) => {
  void (async () => {
    switch (line.trim()) {
      case 'health':
        out({ t: 'health', ...syncer.health() });
        break;
      case 'metrics':
        out({ t: 'metrics', text: await registry.metrics() });
        break;
      case 'model':
        out({ t: 'model', keys: Object.fromEntries([...cache.snapshot()].map(([k, v]) => [k, String(v.metadata.resourceVersion ?? '')])) });
        break;
    }
  })();
});
process.on('SIGTERM', () => {
  void syncer.stop().then(() => backend.close()).then(() => process.exit(0));
});
