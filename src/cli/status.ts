/**
 * `tortie status`: what `calicoctl node status` prints, read from the running agent's (or
 * standalone speaker's) control socket instead of BIRD's. `--json` gives the same data with
 * prefix counts; `tortie status routes [prefix]` shows the RIB with the reason each best path won.
 */
import type { Command } from 'commander';
import { controlCall, ControlRemoteError, DEFAULT_CONTROL_SOCKET_PATH } from '../agent/control.js';
import { UserError, errorMessage } from '../util/errors.js';
import { formatNodeStatus, formatNoBgp, formatRoutes } from '../bgp/status.js';
import type { PeerStatus } from '../bgp/speaker/peer.js';
import type { PrefixView } from '../bgp/rib/index.js';
import { formatEndpointPolicy, type EndpointPolicyView } from '../agent/policy-status.js';

interface PeersResult {
  routerId: string;
  asNumber: number;
  /** A restarting speaker still deferring its advertisements (RFC 4724 §4.1); absent from older speakers. */
  exportsHeld?: boolean;
  peers: PeerStatus[];
}

/** Not in calicoctl's output (BIRD has no such state to show): printed only while it holds. */
const EXPORTS_HELD_TEXT =
  'Graceful restart in progress: our routes are not advertised yet (waiting for End-of-RIB from every graceful-restart peer, or the selection deferral timer).\n';

async function call<T>(socket: string, method: string, params?: unknown): Promise<T | 'no-bgp'> {
  try {
    return await controlCall<T>(socket, method, params);
  } catch (e) {
    if (e instanceof ControlRemoteError && e.code === 'E_NO_METHOD') return 'no-bgp';
    if (e instanceof ControlRemoteError) throw e;
    // calicoctl's wording, then what we could not reach and why.
    throw new UserError(`Calico process is not running.\n(no tortie agent answering on ${socket}: ${errorMessage(e)})`, { code: 'E_NOT_RUNNING', exitCode: 1 });
  }
}

export function register(program: Command): void {
  const status = program
    .command('status')
    .description('BGP peer status in calicoctl node status format')
    .option('-s, --socket <path>', 'control socket of the agent or bgp-speaker', DEFAULT_CONTROL_SOCKET_PATH)
    .option('--json', 'machine-readable output with prefix counts')
    .action(async (o: { socket: string; json?: boolean }) => {
      const r = await call<PeersResult>(o.socket, 'bgp.peers');
      if (o.json) {
        process.stdout.write(JSON.stringify(r === 'no-bgp' ? { running: true, bgp: false } : { running: true, bgp: true, ...r }, null, 2) + '\n');
        return;
      }
      process.stdout.write(r === 'no-bgp' ? formatNoBgp() : formatNodeStatus(r.peers) + (r.exportsHeld ? EXPORTS_HELD_TEXT : ''));
    });
  status
    .command('routes [prefix]')
    .description('the BGP RIB: every path per prefix, the best one and why it won (takes --socket/--json of status)')
    .action(async (prefix: string | undefined) => {
      // --socket and --json belong to `status` (commander gives a parent's options precedence).
      const o = status.opts<{ socket: string; json?: boolean }>();
      const r = await call<{ routes: PrefixView[] }>(o.socket, 'bgp.routes', prefix ? { prefix } : undefined);
      if (r === 'no-bgp') throw new UserError('the agent is running without BGP: no routes to show', { exitCode: 1 });
      process.stdout.write(o.json ? JSON.stringify(r.routes, null, 2) + '\n' : formatRoutes(r.routes));
    });
  status
    .command('policy <target>')
    .description('the policies and profiles that apply to a local pod, tier by tier, with their chains (<namespace>/<pod>; takes --socket/--json of status)')
    .action(async (target: string) => {
      const o = status.opts<{ socket: string; json?: boolean }>();
      const slash = target.indexOf('/');
      if (slash <= 0 || slash === target.length - 1) throw new UserError(`'${target}' is not <namespace>/<pod>`, { code: 'E_USAGE', exitCode: 2 });
      const params = { namespace: target.slice(0, slash), pod: target.slice(slash + 1) };
      const r = await call<EndpointPolicyView>(o.socket, 'policy.endpoint', params);
      if (r === 'no-bgp') throw new UserError('the agent does not serve policy status (an older agent, or a standalone bgp-speaker)', { exitCode: 1 });
      process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : formatEndpointPolicy(r));
    });
}
