/**
 * The lab's BIRD peer against a real BGP speaker: GoBGP in two node namespaces peers with BIRD,
 * one announces a pod block, BIRD installs it into the kernel of its namespace and, as route
 * reflector, passes it on to the other node. This checks the generated bird.conf end to end
 * (sessions, next hops, rr client, kernel export) independently of tortie's own speaker.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLab, type LabState, type NodeState } from '../../src/lab/index.js';
import { run, spawnDaemon, stopProcess, waitFor } from '../../src/lab/exec.js';
import { ipIn, runIn } from '../../src/lab/netns.js';
import { birdcArgv } from '../../src/lab/bird.js';
import { assertNoNamespaces, assertNoProcesses, freshLabDir, labName, requireRoot } from './helpers.js';

before(() => {
  requireRoot();
  freshLabDir();
});

async function startGobgp(lab: LabState, node: NodeState): Promise<number> {
  const conf = join(lab.workDir, `${node.name}-gobgpd.toml`);
  writeFileSync(
    conf,
    [
      '[global.config]',
      `  as = ${lab.bird!.asNumber}`,
      `  router-id = "${node.ip}"`,
      '[[neighbors]]',
      '  [neighbors.config]',
      `    neighbor-address = "${lab.bird!.ip}"`,
      `    peer-as = ${lab.bird!.asNumber}`,
      '',
    ].join('\n'),
  );
  // gobgpd's gRPC API on the node's loopback: each namespace has its own.
  return spawnDaemon(['ip', 'netns', 'exec', node.netns, 'gobgpd', '-f', conf, '-p', '--api-hosts=127.0.0.1:50051', '--pprof-disable'], {
    logFile: join(lab.workDir, `${node.name}-gobgpd.log`),
  });
}

test('BIRD peer (route reflector) learns a block from one node, installs it, reflects it to the other', async () => {
  const name = labName('rr');
  const pids: number[] = [];
  await withLab({ name, nodes: 2, birdPeer: true }, async (lab) => {
    const [n1, n2] = lab.nodes as [NodeState, NodeState];
    try {
      pids.push(await startGobgp(lab, n1), await startGobgp(lab, n2));
      await waitFor(
        async () => {
          const out = (await run(birdcArgv(lab.bird!.controlSocket, 'show', 'protocols'))).stdout;
          return /node_1\s+BGP\s+master\s+up/.test(out) && /node_2\s+BGP\s+master\s+up/.test(out);
        },
        { timeoutMs: 30_000, intervalMs: 250, what: 'both BGP sessions Established in BIRD' },
      );
      await runIn(n1.netns, ['gobgp', '-u', '127.0.0.1', 'global', 'rib', 'add', '-a', 'ipv4', '10.65.0.0/26', 'nexthop', n1.ip]);
      const kernel = await waitFor(
        async () => {
          const r = (await ipIn(lab.bird!.netns, 'route', 'show', '10.65.0.0/26')).stdout;
          return r.includes('via') ? r : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250, what: "BIRD's kernel route for 10.65.0.0/26" },
      );
      assert.match(kernel, new RegExp(`10\\.65\\.0\\.0/26 via ${n1.ip.replace(/\./g, '\\.')} dev eth0 proto bird`));
      const reflected = await waitFor(
        async () => {
          const r = (await runIn(n2.netns, ['gobgp', '-u', '127.0.0.1', 'global', 'rib', '-a', 'ipv4'])).stdout;
          return r.includes('10.65.0.0/26') ? r : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250, what: 'node-2 to receive the reflected route' },
      );
      assert.match(reflected, new RegExp(`10\\.65\\.0\\.0/26\\s+${n1.ip.replace(/\./g, '\\.')}`));
    } finally {
      for (const p of pids) await stopProcess(p);
    }
  });
  assertNoNamespaces(`tl-${name}-`);
  assertNoProcesses(pids);
});
