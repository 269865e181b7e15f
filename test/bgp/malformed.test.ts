/**
 * The codec helper's malformed-message corpus replayed over real TCP against a running
 * `tortie bgp-speaker`: each case must produce the NOTIFICATION it names, or leave the session
 * up with only the bad routes withdrawn. The speaker process must survive every case, and its
 * session to a real BIRD must stay Established without a flap throughout.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { waitFor } from '../../src/lab/exec.js';
import { controlCall } from '../../src/agent/control.js';
import { BgpLab, birdConf, requireRoot, speakerYaml } from './lab.js';
import { MALFORMED_CORPUS, CORPUS_LOCAL_AS, CORPUS_LOCAL_ID, CORPUS_PEER_AS, CORPUS_IBGP_AS } from './malformed-corpus.js';
import type { PeerStatus } from '../../src/bgp/speaker.js';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { run } from '../../src/lab/exec.js';

requireRoot();

const here = dirname(fileURLToPath(import.meta.url));
const lab = new BgpLab('mal');
before(async () => lab.up(['t', 'b1', 'x']));
after(async () => lab.down());

test('every corpus message gets the right NOTIFICATION or a treat-as-withdraw, over TCP, without disturbing another session', async () => {
  const T = lab.v4('t');
  // A second address on the attacker node: one source is the eBGP peer, the other the iBGP one.
  const ebgpSrc = lab.v4('x');
  const ibgpSrc = '198.18.100.200';
  await run(['ip', '-n', lab.ns('x'), 'addr', 'add', `${ibgpSrc}/24`, 'dev', 'eth0']);
  const b1 = await lab.bird('b1', birdConf({ routerId: lab.v4('b1'), asn: CORPUS_LOCAL_AS, statics: ['10.99.0.0/24'], peers: [{ name: 'tortie', address: T, asn: CORPUS_LOCAL_AS }] }));
  const sp = lab.tortie(
    't',
    speakerYaml({
      routerId: CORPUS_LOCAL_ID,
      asn: CORPUS_LOCAL_AS,
      peers: [
        { address: lab.v4('b1'), asNumber: CORPUS_LOCAL_AS },
        { address: ebgpSrc, asNumber: CORPUS_PEER_AS, passive: true },
        { address: ibgpSrc, asNumber: CORPUS_IBGP_AS, passive: true },
      ],
      extra: { metrics: { address: '127.0.0.1', port: 9199 } },
    }),
  );
  try {
    const birdPeer = async (): Promise<PeerStatus> =>
      (await controlCall<{ peers: PeerStatus[] }>(sp.control, 'bgp.peers')).peers.find((p) => p.address === lab.v4('b1'))!;
    await waitFor(async () => (await birdPeer()).state === 'Established', { timeoutMs: 30_000, what: `session to BIRD (log ${sp.log})` });

    // From source (tsx) or from dist/ (compiled .js, as `make test` runs it).
    const fromSource = import.meta.url.endsWith('.ts');
    const peerScript = join(here, fromSource ? 'corpus-peer.ts' : 'corpus-peer.js');
    const loader = fromSource ? ['--import', import.meta.resolve('tsx')] : [];
    const argv = ['ip', 'netns', 'exec', lab.ns('x'), process.execPath, ...loader, peerScript, T, ebgpSrc, ibgpSrc, sp.control];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.equal(code, 0, `corpus peer failed: ${err}`);
    const results = out.trim().split('\n').map((l) => JSON.parse(l) as { id: number; name: string; notification?: { code: number; subcode: number; data: string }; upAfter: boolean; before?: number; after?: number; error?: string });
    assert.equal(results.length, MALFORMED_CORPUS.length);

    const failures: string[] = [];
    MALFORMED_CORPUS.forEach((c, i) => {
      const r = results[i]!;
      const tag = `row ${c.id} "${c.name}"`;
      if (r.error) return failures.push(`${tag}: ${r.error}`);
      const e = c.expect;
      if (e.kind === 'reset') {
        if (!r.notification) return failures.push(`${tag}: expected NOTIFICATION ${e.code}/${e.subcode}, got none`);
        if (r.notification.code !== e.code || r.notification.subcode !== e.subcode) {
          return failures.push(`${tag}: expected NOTIFICATION ${e.code}/${e.subcode}, got ${r.notification.code}/${r.notification.subcode}`);
        }
        if (e.data && r.notification.data !== Buffer.from(e.data).toString('hex')) {
          return failures.push(`${tag}: NOTIFICATION data ${r.notification.data}, expected ${Buffer.from(e.data).toString('hex')}`);
        }
        return;
      }
      if (!r.upAfter) return failures.push(`${tag}: session should stay up, got ${JSON.stringify(r.notification ?? 'closed')}`);
      if (r.before !== undefined && r.before === 0) return failures.push(`${tag}: the valid announcement before the case was not accepted`);
      if (e.kind === 'treat-as-withdraw' && r.after !== undefined && r.after !== 0) failures.push(`${tag}: prefixes should be withdrawn, ${r.after} remain`);
      if (e.kind !== 'treat-as-withdraw' && r.after !== undefined && r.before !== undefined && r.after !== r.before) failures.push(`${tag}: routes should stay (${r.before} → ${r.after})`);
      return;
    });
    assert.deepEqual(failures, [], failures.join('\n'));

    // The speaker is alive and the BIRD session never flapped.
    assert.equal(sp.child.exitCode, null, 'speaker process still running');
    const p = await birdPeer();
    assert.equal(p.state, 'Established');
    assert.equal(p.flaps, 0);
    assert.match(await b1.birdc('show protocols'), /tortie\s+BGP\s+master\s+up/);
    // The metrics count what happened, per peer and per action/code.
    const prom = (await run(['ip', 'netns', 'exec', lab.ns('t'), 'curl', '-sf', 'http://127.0.0.1:9199/metrics'])).stdout;
    assert.match(prom, new RegExp(`tortie_bgp_malformed_updates_total\\{peer="${ebgpSrc.replaceAll('.', '\\.')}",action="treat-as-withdraw"\\} [1-9]`));
    assert.match(prom, new RegExp(`tortie_bgp_notifications_sent_total\\{peer="${ebgpSrc.replaceAll('.', '\\.')}",code="2",subcode="2"\\} [1-9]`));
    assert.match(prom, new RegExp(`tortie_bgp_peer_up\\{peer="${lab.v4('b1').replaceAll('.', '\\.')}"\\} 1`));
    assert.match(prom, /tortie_bgp_updates_received_total\{peer="[^"]+"\} [1-9]/);
    assert.match(prom, /tortie_bgp_peer_prefixes_received\{peer="198\.18\.100\.2",afi="ipv4"\} 1/);
  } finally {
    await sp.stop('SIGINT');
    await b1.stop();
  }
});
