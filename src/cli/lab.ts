/**
 * `tortie lab ...`: the command line over src/lab. Every subcommand is a thin wrapper around the
 * library function of the same name; errors a user can fix are UserErrors (message, exit 2).
 */
import type { Command } from 'commander';
import { UserError } from '../util/errors.js';
import { createLogger } from '../util/log.js';

const lab = () => import('../lab/index.js');

function int(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new UserError(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function register(program: Command): void {
  const cmd = program.command('lab').description('a multi-node virtual cluster in network namespaces (needs root)');

  cmd
    .command('up')
    .description('create a lab: fabric bridge, K node namespaces, etcd, optional BIRD peer')
    .requiredOption('--name <name>', 'lab name (1-12 lowercase letters/digits)')
    .requiredOption('--nodes <k>', 'number of nodes', int('--nodes'))
    .option('--datastore <type>', 'etcd or none', 'etcd')
    .option('--bird-peer', 'add an external BIRD 1.6 router (ToR / route reflector) at 198.18.0.3')
    .option('--bird-as <asn>', 'AS number of the BIRD peer', int('--bird-as'))
    .option('--bird-passive', 'BIRD waits for the nodes to connect')
    .option('--no-bird-rr', 'BIRD does not reflect routes between the nodes')
    .option('--subnets <n>', '1, or 2 for two fabric subnets joined by a router', int('--subnets'), 1)
    .option('--pool <cidr>', 'default IPv4 pool', '10.65.0.0/16')
    .option('--block-size <bits>', 'IPAM block size', int('--block-size'), 26)
    .option('--vxlan-mode <mode>', 'pool vxlanMode: Never, Always, CrossSubnet', 'Never')
    .option('--ipip-mode <mode>', 'pool ipipMode: Never, Always, CrossSubnet', 'Never')
    .option('--no-provision-nodes', 'do not write Node resources to etcd')
    .option('--owner-pid <pid>', 'the lab is stale (swept by down --stale) once this process is gone; default: persistent', int('--owner-pid'), 0)
    .option('-v, --verbose', 'log progress to stderr')
    .option('--json', 'print the lab state as JSON')
    .action(async (o: Record<string, unknown>) => {
      const { labUp } = await lab();
      const modes = ['Never', 'Always', 'CrossSubnet'] as const;
      for (const k of ['vxlanMode', 'ipipMode'] as const) {
        if (!modes.includes(o[k] as (typeof modes)[number])) throw new UserError(`--${k === 'vxlanMode' ? 'vxlan' : 'ipip'}-mode must be one of ${modes.join(', ')}`);
      }
      const s = await labUp({
        name: o.name as string,
        nodes: o.nodes as number,
        datastore: o.datastore as 'etcd' | 'none',
        birdPeer: o.birdPeer ? { asNumber: o.birdAs as number | undefined, passive: !!o.birdPassive, routeReflector: o.birdRr as boolean } : false,
        subnets: o.subnets as 1 | 2,
        pool: { cidr: o.pool as string, blockSize: o.blockSize as number, vxlanMode: o.vxlanMode as (typeof modes)[number], ipipMode: o.ipipMode as (typeof modes)[number] },
        provisionNodes: o.provisionNodes as boolean,
        ownerPid: o.ownerPid as number,
        log: createLogger({ level: o.verbose ? 'info' : 'error', name: 'tortie-lab', destination: process.stderr }),
      });
      if (o.json) {
        process.stdout.write(JSON.stringify(s, null, 2) + '\n');
        return;
      }
      process.stdout.write(`lab ${s.name} is up: ${s.nodes.length} node(s)${s.etcd ? `, etcd ${s.etcd.endpoint}` : ''}${s.bird ? `, BIRD ${s.bird.ip} AS ${s.bird.asNumber}` : ''}\n`);
      process.stdout.write(`state: ${s.workDir}.json; logs: ${s.workDir}/\n`);
    });

  cmd
    .command('down')
    .description('tear a lab down (idempotent); --stale: labs whose owner died; --all: every lab')
    .argument('[name]', 'lab name')
    .option('--all', 'every lab on this machine (state files and tl-* namespaces)')
    .option('--stale', 'only labs whose owner process is gone')
    .action(async (name: string | undefined, o: { all?: boolean; stale?: boolean }) => {
      const { labDown, sweepAll, sweepStale } = await lab();
      const modes = [name !== undefined, !!o.all, !!o.stale].filter(Boolean).length;
      if (modes !== 1) throw new UserError('lab down needs exactly one of: a lab name, --all, --stale');
      if (o.all || o.stale) {
        const swept = o.all ? await sweepAll() : await sweepStale();
        process.stdout.write(swept.length ? `removed lab(s): ${swept.join(', ')}\n` : 'no labs to remove\n');
        return;
      }
      const r = await labDown(name!);
      process.stdout.write(r.existed ? `lab ${r.name} removed\n` : `lab ${r.name} does not exist (nothing to do)\n`);
    });

  cmd
    .command('status')
    .description('show a lab')
    .argument('<name>', 'lab name')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { json?: boolean }) => {
      const { labStatus } = await lab();
      const s = labStatus(name);
      if (o.json) {
        process.stdout.write(JSON.stringify(s, null, 2) + '\n');
        return;
      }
      const out: string[] = [];
      out.push(`lab ${s.name} (${s.phase}), owner ${s.ownerPid === 0 ? 'none (persistent)' : `pid ${s.ownerPid}${s.ownerAlive ? '' : ' (gone: stale)'}`}`);
      out.push(`state ${s.stateFile}, work dir ${s.workDir}`);
      if (s.etcd) out.push(`etcd ${s.etcd.endpoint} pid ${s.etcd.pid} ${s.etcd.running ? 'running' : 'NOT RUNNING'} (netns ${s.etcd.netns})`);
      if (s.bird) out.push(`BIRD ${s.bird.ip} AS ${s.bird.asNumber} pid ${s.bird.pid} ${s.bird.running ? 'running' : 'NOT RUNNING'}; birdc -s ${s.bird.controlSocket}`);
      out.push('', table([['NODE', 'IP', 'NETNS', 'AGENT', 'PODS'], ...s.nodes.map((n) => [n.name, n.ip, n.netnsExists ? n.netns : `${n.netns} (MISSING)`, n.agentRunning ? `pid ${n.agentPid}` : n.agentPid ? `pid ${n.agentPid} (dead)` : '-', String(n.pods)])]));
      if (s.pods.length) out.push('', table([['POD', 'NODE', 'IP', 'HOST IFACE', 'NETNS'], ...s.pods.map((p) => [`${p.namespace}/${p.name}`, p.node, p.ip, p.iface, p.netns])]));
      process.stdout.write(out.join('\n') + '\n');
    });

  const pod = cmd.command('pod').description('add or delete pods (plays Calico CNI + calico-ipam)');
  pod
    .command('add')
    .argument('<lab>')
    .argument('<node>')
    .argument('<pod>')
    .option('--namespace <ns>', 'Kubernetes namespace', 'default')
    .option('--labels <k=v,...>', 'pod labels', '')
    .option('--no-host-route', 'do not add the /32 route on the node, as the CNI plugin would')
    .action(async (name: string, node: string, podName: string, o: { namespace: string; labels: string; hostRoute: boolean }) => {
      const { podAdd, parseLabels } = await lab();
      const p = await podAdd(name, node, podName, { namespace: o.namespace, labels: parseLabels(o.labels), hostRoute: o.hostRoute });
      process.stdout.write(`pod ${p.namespace}/${p.name} on ${p.node}: ${p.ip} (block ${p.block}), host interface ${p.iface}, netns ${p.netns}\n`);
    });
  pod
    .command('del')
    .argument('<lab>')
    .argument('<pod>')
    .option('--namespace <ns>', 'Kubernetes namespace', 'default')
    .action(async (name: string, podName: string, o: { namespace: string }) => {
      const { podDel } = await lab();
      const p = await podDel(name, podName, { namespace: o.namespace });
      process.stdout.write(`pod ${p.namespace}/${p.name} deleted, ${p.ip} released\n`);
    });

  cmd
    .command('exec')
    .description('run a command in a lab namespace: a node, a pod ([ns/]pod), etcd, bird, fabric or router')
    .argument('<lab>')
    .argument('<target>')
    .argument('<command...>', 'the command (after --)')
    .action(async (name: string, target: string, argv: string[]) => {
      const { labExec } = await lab();
      process.exitCode = await labExec(name, target, argv);
    });

  const agent = cmd.command('agent').description('run tortie agent inside a node namespace');
  for (const verb of ['start', 'stop', 'restart'] as const) {
    agent
      .command(verb)
      .argument('<lab>')
      .argument('<node>')
      .option('--kill', 'stop with SIGKILL (simulates a crash)')
      .option('--log-level <level>', 'FELIX_LOGSEVERITYSCREEN for the agent', 'Info')
      .action(async (name: string, node: string, o: { kill?: boolean; logLevel: string }) => {
        const l = await lab();
        if (verb === 'stop') {
          const was = await l.agentStop(name, node, { kill: o.kill });
          process.stdout.write(was ? `agent on ${node} stopped\n` : `agent on ${node} was not running\n`);
          return;
        }
        if (o.kill && verb === 'start') throw new UserError('--kill applies to stop and restart');
        const a = verb === 'start' ? await l.agentStart(name, node, { logLevel: o.logLevel }) : await l.agentRestart(name, node, { kill: o.kill, logLevel: o.logLevel });
        process.stdout.write(`agent on ${node}: pid ${a.pid}, log ${a.logFile}\n`);
      });
  }

  cmd
    .command('birdc')
    .description("run birdc against the lab's BIRD peer, e.g. tortie lab birdc demo -- show protocols")
    .argument('<lab>')
    .argument('[args...]')
    .action(async (name: string, args: string[]) => {
      const { loadLab, birdcArgv, requireRoot } = await lab();
      requireRoot();
      const s = loadLab(name);
      if (!s.bird) throw new UserError(`lab ${name} has no BIRD peer (create it with --bird-peer)`);
      const { spawnSync } = await import('node:child_process');
      const [c, ...rest] = birdcArgv(s.bird.controlSocket, ...(args.length ? args : ['show', 'protocols']));
      process.exitCode = spawnSync(c!, rest, { stdio: 'inherit', timeout: 30_000 }).status ?? 1;
    });

  const etcd = cmd.command('etcd').description("stop or start the lab's etcd (datastore outage tests; data is kept)");
  etcd
    .command('stop')
    .argument('<lab>')
    .option('--kill', 'SIGKILL instead of SIGTERM')
    .action(async (name: string, o: { kill?: boolean }) => {
      const { etcdStop } = await lab();
      process.stdout.write((await etcdStop(name, { kill: o.kill })) ? 'etcd stopped\n' : 'etcd was not running\n');
    });
  etcd
    .command('start')
    .argument('<lab>')
    .action(async (name: string) => {
      const { etcdStart } = await lab();
      const e = await etcdStart(name);
      process.stdout.write(`etcd running: pid ${e.pid}, ${e.endpoint}\n`);
    });

  cmd
    .command('etcdctl')
    .description("run etcdctl against the lab's etcd, e.g. tortie lab etcdctl demo -- get --prefix --keys-only /calico")
    .argument('<lab>')
    .argument('<args...>')
    .action(async (name: string, args: string[]) => {
      const { loadLab, requireRoot } = await lab();
      requireRoot();
      const s = loadLab(name);
      if (!s.etcd) throw new UserError(`lab ${name} has no etcd`);
      const { spawnSync } = await import('node:child_process');
      // Over the unix socket: works from the root namespace without any route into the lab.
      process.exitCode = spawnSync('etcdctl', [`--endpoints=${s.etcd.unixEndpoint}`, ...args], { stdio: 'inherit', timeout: 60_000 }).status ?? 1;
    });

  cmd
    .command('demo')
    .description('3 nodes, etcd, a BIRD peer, 2 pods per node, agents; show it all, then tear down')
    .option('--name <name>', 'lab name', 'demo')
    .option('--keep', 'leave the lab up at the end (remove it with tortie lab down)')
    .action(async (o: { name: string; keep?: boolean }) => {
      const { runDemo } = await import('../lab/demo.js');
      process.exitCode = await runDemo({ name: o.name, keep: !!o.keep });
    });
}
