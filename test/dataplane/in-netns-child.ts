/**
 * Child process for in-netns.test.ts: runs the dataplane exactly as the agent does — inside the
 * node's network namespace (started under `ip netns exec`), plain `ip` without `-n`, sysctls
 * written straight to /proc/sys — applies one pass and prints the report as JSON.
 *   argv: <caliIf> <podIp>
 */
import { createNodeDataplane } from '../../src/dataplane/index.js';

const [caliIf, podIp] = process.argv.slice(2);
if (!caliIf || !podIp) {
  console.error('usage: in-netns-child <caliIf> <podIp>');
  process.exit(2);
}
const node = createNodeDataplane({ routeRefreshIntervalMs: 3_600_000 });
const dp = node.dataplane;
dp.setRoute({ class: 'workload', dst: podIp, dev: caliIf });
dp.setRoute({ class: 'local-block', dst: '10.65.0.0/26', type: 'blackhole' });
dp.setDatastoreInSync(true);
const report = await dp.applyNow();
await node.stop();
console.log(JSON.stringify({ report, status: dp.status() }));
