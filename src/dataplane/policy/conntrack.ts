/**
 * Clearing conntrack for addresses that left the node (Felix's conntrack cleanup of removed
 * workload IPs): every flow to or from them is deleted with the `conntrack` tool, so an accepted
 * connection does not outlive its pod, and a new pod that gets the same address starts with no
 * flows accepted on the old one's behalf.
 *
 * Policy changes do not clear conntrack, as in Calico: a flow a new policy would deny but that is
 * already established keeps going until it ends (the endpoint chains accept RELATED,ESTABLISHED
 * first). docs/policy.md says so.
 */
import { inNetnsArgv, ExecError, type CommandRunner } from '../exec.js';

/** `conntrack -D` prints this (and exits 1) when nothing matched: not an error. */
const NOTHING_DELETED = /0 flow entries have been deleted/;

export async function flushConntrack(runner: CommandRunner, addresses: readonly string[], netns?: string): Promise<number> {
  let deleted = 0;
  for (const a of addresses) {
    const family = a.includes(':') ? 'ipv6' : 'ipv4';
    for (const dir of ['--orig-src', '--orig-dst'] as const) {
      const argv = inNetnsArgv(netns ? { netns } : {}, ['conntrack', '-D', '-f', family, dir, a]);
      const r = await runner.run(argv, { timeoutMs: 10_000 });
      if (r.code === 0) {
        const m = /(\d+) flow entries have been deleted/.exec(r.stderr + r.stdout);
        deleted += m ? Number(m[1]) : 0;
      } else if (!NOTHING_DELETED.test(r.stderr + r.stdout)) {
        throw new ExecError(argv, `exit code ${r.code}`, r.stderr);
      }
    }
  }
  return deleted;
}
