/**
 * A small BGP test bed for the integration tests: network namespaces `tt-bgp-<pid>-<node>` on one
 * L2 segment (a bridge in a switch namespace), IPv4 198.18.100.0/24 and IPv6 fd00:198:18::/64
 * (both only inside our namespaces), and real daemons in them: BIRD 1.6 (`bird`/`bird6`), GoBGP
 * 3.10 (`gobgpd`) and `tortie bgp-speaker`. Every process and namespace is ours and removed in
 * cleanup(); namespaces left by a crashed earlier run are swept only when their owner pid is dead.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, waitFor, StopWaiting } from '../../src/lab/exec.js';
import { netnsAdd, netnsDelete, spawnLoggedIn, sweepStaleNamespaces, type LoggedChild } from '../../src/lab/netns.js';
import { tortieCommand } from '../helpers/tortie-cmd.js';

export const PREFIX = `tt-bgp-${process.pid}`;

/** Fails loudly when the test cannot run here (the brief: never skip quietly). */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('BGP integration tests need root (network namespaces); run as root');
  for (const tool of ['ip', 'bird', 'birdc', 'bird6', 'birdc6', 'gobgpd', 'gobgp']) {
    if (!['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(join(d, tool)))) throw new Error(`${tool} is not installed`);
  }
}

/** Deletes tt-bgp-<pid>-* namespaces whose creating process is gone. */
export async function sweepStale(): Promise<void> {
  await sweepStaleNamespaces('tt-bgp-');
}

/** A daemon in one of the lab's namespaces. */
export type Daemon = LoggedChild;

export class BgpLab {
  readonly dir = mkdtempSync(join(tmpdir(), 'tt-bgp-'));
  private readonly nodes: string[] = [];
  private readonly daemons: Daemon[] = [];
  private index = 0;
  private readonly sw: string;

  constructor(readonly tag: string) {
    this.sw = `${PREFIX}-${tag}-sw`;
  }

  ns(node: string): string {
    return `${PREFIX}-${this.tag}-${node}`;
  }
  v4(node: string): string {
    return `198.18.100.${this.nodes.indexOf(node) + 1}`;
  }
  v6(node: string): string {
    return `fd00:198:18::${this.nodes.indexOf(node) + 1}`;
  }

  async up(nodes: string[]): Promise<void> {
    await sweepStale();
    await netnsAdd(this.sw);
    await run(['ip', '-n', this.sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await run(['ip', '-n', this.sw, 'link', 'set', 'br0', 'up']);
    for (const n of nodes) {
      this.nodes.push(n);
      const ns = this.ns(n);
      const i = this.index++;
      await netnsAdd(ns);
      const host = `ttb${process.pid % 100000}${this.tag.slice(0, 2)}${i}`;
      await run(['ip', 'link', 'add', host, 'netns', this.sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await run(['ip', '-n', this.sw, 'link', 'set', host, 'master', 'br0', 'up']);
      await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      await run(['ip', '-n', ns, 'addr', 'add', `${this.v4(n)}/24`, 'dev', 'eth0']);
      await run(['ip', '-n', ns, 'addr', 'add', `${this.v6(n)}/64`, 'dev', 'eth0', 'nodad']);
      await run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  private spawnIn(node: string, name: string, argv: string[]): Daemon {
    const d = spawnLoggedIn(this.ns(node), name, argv, join(this.dir, `${name}.log`));
    this.daemons.push(d);
    return d;
  }

  /** Starts BIRD (or bird6) with `conf`; returns a handle and a birdc runner. */
  async bird(node: string, conf: string, v6 = false, extraArgs: string[] = []): Promise<Daemon & { birdc(cmd: string): Promise<string> }> {
    const name = `${v6 ? 'bird6' : 'bird'}-${node}`;
    const cfg = join(this.dir, `${name}.conf`);
    const sock = join(this.dir, `${name}.ctl`);
    writeFileSync(cfg, conf);
    rmSync(sock, { force: true });
    const d = this.spawnIn(node, name, [v6 ? 'bird6' : 'bird', '-f', '-c', cfg, '-s', sock, '-P', join(this.dir, `${name}.pid`), ...extraArgs]);
    const birdc = async (cmd: string): Promise<string> =>
      (await run([v6 ? 'birdc6' : 'birdc', '-s', sock, ...cmd.split(' ')], { timeoutMs: 5000 })).stdout;
    await waitFor(
      async () => {
        if (d.child.exitCode !== null) throw new StopWaiting(`${name} exited: ${readFileSync(d.log, 'utf8')}`);
        return (await birdc('show status')).includes('Daemon is up');
      },
      { timeoutMs: 10_000, what: `${name} control socket (log: ${d.log})` },
    );
    return Object.assign(d, { birdc });
  }

  async gobgp(node: string, toml: string): Promise<Daemon & { cli(args: string): Promise<string> }> {
    const name = `gobgpd-${node}`;
    const cfg = join(this.dir, `${name}.toml`);
    writeFileSync(cfg, toml);
    const d = this.spawnIn(node, name, ['gobgpd', '-f', cfg, '-l', 'info']);
    const cli = async (args: string): Promise<string> =>
      (await run(['ip', 'netns', 'exec', this.ns(node), 'gobgp', ...args.split(' ')], { timeoutMs: 5000 })).stdout;
    await waitFor(async () => (await cli('global')).includes('AS'), { timeoutMs: 15_000, what: `${name} API (log: ${d.log})` });
    return Object.assign(d, { cli });
  }

  /** Writes speaker.yaml and starts `tortie bgp-speaker` in the node's namespace. */
  tortie(node: string, yaml: string, name = `tortie-${node}`): Daemon & { config: string; control: string } {
    const config = join(this.dir, `${name}.yaml`);
    const control = join(this.dir, `${name}.sock`);
    writeFileSync(config, yaml.replaceAll('@CONTROL@', control).replaceAll('@DIR@', this.dir));
    const [cmd, ...args] = tortieCommand();
    const d = this.spawnIn(node, name, [cmd!, ...args, 'bgp-speaker', '--config', config]);
    return Object.assign(d, { config, control });
  }

  logOf(d: Daemon): string {
    return existsSync(d.log) ? readFileSync(d.log, 'utf8') : '';
  }

  async down(): Promise<void> {
    for (const d of this.daemons.reverse()) await d.stop('SIGKILL').catch(() => undefined);
    for (const n of this.nodes) await netnsDelete(this.ns(n));
    await netnsDelete(this.sw);
    if (!process.env.TORTIE_KEEP_TEST_LOGS) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A BIRD 1.6 config with one static route set and BGP peers (Calico-like timers). */
export function birdConf(o: {
  routerId: string;
  asn: number;
  statics?: string[];
  peers: { name: string; address: string; asn: number; extra?: string }[];
  extra?: string;
}): string {
  const statics = (o.statics ?? []).map((p) => `  route ${p} blackhole;`).join('\n');
  const peers = o.peers
    .map(
      (p) => `protocol bgp ${p.name} {
  local as ${o.asn};
  neighbor ${p.address} as ${p.asn};
  import all;
  export where source != RTS_DEVICE;
  connect delay time 1;
  connect retry time 2;
  error wait time 1,5;
  ${p.extra ?? ''}
}`,
    )
    .join('\n');
  return `router id ${o.routerId};
protocol device { scan time 2; }
protocol direct { interface "eth0"; }
protocol static st { ${statics ? '\n' + statics + '\n' : ''}}
${o.extra ?? ''}
${peers}
`;
}

export function speakerYaml(o: {
  routerId: string;
  asn: number;
  listen?: string;
  peers: Record<string, unknown>[];
  announce?: Record<string, unknown>[];
  extra?: Record<string, unknown>;
}): string {
  return JSON.stringify({
    routerId: o.routerId,
    asNumber: o.asn,
    listen: { address: o.listen ?? '::', port: 179 },
    controlSocket: '@CONTROL@',
    peers: o.peers,
    announce: o.announce ?? [],
    ...o.extra,
  });
}
