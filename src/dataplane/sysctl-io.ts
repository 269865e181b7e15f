/**
 * Two ways to reach /proc/sys/net, which is per network namespace (the namespace of the process
 * that opens the file):
 *  - `ProcSysctl` reads and writes the files directly: the agent runs inside the node's network
 *    namespace, so these are the node's sysctls.
 *  - `NetnsSysctl` runs `ip netns exec NS ...` for a process in another namespace (tests, lab):
 *    one `grep -H` reads many keys in one exec, one `sysctl -w` writes many.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { inNetnsArgv, type CommandRunner } from './exec.js';
import type { OpResult, SysctlIO } from './netlink.js';

const PROC_SYS = '/proc/sys/';

export class ProcSysctl implements SysctlIO {
  constructor(private readonly root = PROC_SYS) {}

  async read(paths: readonly string[]): Promise<Map<string, string | undefined>> {
    const out = new Map<string, string | undefined>();
    await Promise.all(
      paths.map(async (p) => {
        try {
          out.set(p, (await readFile(this.root + p, 'utf8')).trim());
        } catch {
          out.set(p, undefined);
        }
      }),
    );
    return out;
  }

  async write(entries: readonly (readonly [string, string])[]): Promise<OpResult[]> {
    return Promise.all(
      entries.map(async ([p, v]) => {
        try {
          await writeFile(this.root + p, v);
          return { ok: true };
        } catch (e) {
          return { ok: false, error: (e as Error).message };
        }
      }),
    );
  }
}

export class NetnsSysctl implements SysctlIO {
  constructor(
    private readonly runner: CommandRunner,
    private readonly netns: string,
    private readonly timeoutMs?: number,
  ) {}

  async read(paths: readonly string[]): Promise<Map<string, string | undefined>> {
    const out = new Map<string, string | undefined>(paths.map((p) => [p, undefined]));
    if (paths.length === 0) return out;
    // grep -H prints "file:value" per file and goes on past missing ones (exit 2, reported per file).
    const r = await this.runner.run(inNetnsArgv({ netns: this.netns }, ['grep', '-H', '', ...paths.map((p) => PROC_SYS + p)]), { timeoutMs: this.timeoutMs });
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      out.set(line.slice(PROC_SYS.length, i), line.slice(i + 1).trim());
    }
    return out;
  }

  async write(entries: readonly (readonly [string, string])[]): Promise<OpResult[]> {
    if (entries.length === 0) return [];
    // sysctl takes slash-separated keys as paths, so interface names with dots stay intact.
    const r = await this.runner.run(inNetnsArgv({ netns: this.netns }, ['sysctl', '-q', '-w', ...entries.map(([p, v]) => `${p}=${v}`)]), { timeoutMs: this.timeoutMs });
    if (r.code === 0) return entries.map(() => ({ ok: true }));
    // sysctl names the keys it could not set; the rest went through.
    return entries.map(([p]) => (r.stderr.includes(p) || r.stderr.includes(p.replaceAll('/', '.')) ? { ok: false, error: r.stderr.trim() } : { ok: true }));
  }
}
