/**
 * Netlink events without a netlink socket: a long-lived `ip monitor link route neigh` child whose
 * text lines are classified into the few events the dataplane acts on. Events only set flags and
 * wake the apply loop (never touch the kernel from the handler). Anything missed here is caught
 * by the periodic refresh, so a dead monitor degrades repair latency, not correctness; it is
 * restarted with a delay.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ipArgv, type NetnsTarget } from './exec.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';

export type KernelEvent =
  /** A link appeared, changed state or vanished. */
  | { kind: 'link'; name: string }
  /** A route was deleted (by anyone); `line` is the monitor's text of it. */
  | { kind: 'route-deleted'; line: string }
  /** A neighbour entry was deleted on `dev`. */
  | { kind: 'neigh-deleted'; dev: string };

/** `3: cali1234@peer1: <...>` or `Deleted 3: cali1234@if2: <...>` */
const LINK_LINE = /^(?:Deleted )?\d+: ([^:@\s]+)(?:@[^:\s]+)?: </;
const DEV = / dev (\S+)/;

/** Classifies one `ip monitor` line; undefined for lines we do not act on. */
export function parseMonitorLine(line: string): KernelEvent | undefined {
  const link = LINK_LINE.exec(line);
  if (link) return { kind: 'link', name: link[1]! };
  if (!line.startsWith('Deleted ')) return undefined;
  // Neighbour lines carry lladdr or a NUD state word; route lines do not.
  if (/ lladdr | (?:PERMANENT|REACHABLE|STALE|FAILED|INCOMPLETE|NOARP)\s*$/.test(line)) {
    const dev = DEV.exec(line);
    return dev ? { kind: 'neigh-deleted', dev: dev[1]! } : undefined;
  }
  return { kind: 'route-deleted', line };
}

/** Delay before restarting a monitor that exited: it should not spin if `ip` keeps failing. */
const RESTART_DELAY_MS = 5_000;

export class KernelMonitor {
  private child: ChildProcess | undefined;
  private stopped = false;
  private restartTimer: TimerHandle | undefined;
  private readonly log: Logger;

  constructor(
    private readonly target: NetnsTarget,
    private readonly onEvent: (e: KernelEvent) => void,
    opts: { log?: Logger; clock?: Clock } = {},
    private readonly clock: Clock = opts.clock ?? systemClock,
  ) {
    this.log = (opts.log ?? silentLogger).child({ component: 'kernel-monitor' });
  }

  start(): void {
    this.stopped = false;
    const argv = ipArgv(this.target, 'monitor', 'link', 'route', 'neigh');
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      const e = parseMonitorLine(line);
      if (e) this.onEvent(e);
    });
    child.stderr?.resume();
    child.on('error', (e) => this.log.warn({ err: e.message }, 'ip monitor could not start; relying on periodic refresh'));
    child.on('close', (code) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      this.log.warn({ code }, 'ip monitor exited; restarting it shortly (periodic refresh still repairs drift)');
      this.restartTimer = this.clock.after(RESTART_DELAY_MS, () => this.start());
    });
  }

  stop(): void {
    this.stopped = true;
    this.restartTimer?.cancel();
    this.child?.kill('SIGTERM');
    this.child = undefined;
  }
}
