/**
 * `tortie agent`: the per-node agent (what calico-node is in a Calico cluster). Every setting in
 * the configuration table is also a flag; flags win over the environment.
 */
import { Command, Option } from 'commander';
import { SETTINGS, SETTING_KEYS, flagName, type SettingKey } from '../config/schema.js';
import { runAgent } from '../agent/run.js';
import { uninstall } from '../dataplane/uninstall.js';
import { ProcessRunner } from '../dataplane/exec.js';
import { DEFAULT_ROUTE_PROTOCOLS } from '../dataplane/types.js';

export function register(program: Command): void {
  const cmd = program
    .command('agent')
    .description('run the node agent (configured like calico-node: FELIX_* and calico-node environment variables, or the flags below)')
    .addHelpText('after', '\nSee docs/configuration.md for every setting, its environment variables and default.');
  for (const key of SETTING_KEYS) {
    const s = SETTINGS[key];
    // Secrets only from the environment: a command line is visible to every user in `ps`.
    if ('secret' in s && s.secret) continue;
    cmd.addOption(new Option(`--${flagName(key)} <value>`, `${s.description} [env: ${s.env[0]}]`));
  }
  cmd.action(async (opts: Record<string, unknown>) => {
    const flags: Partial<Record<SettingKey, string>> = {};
    for (const key of SETTING_KEYS) {
      const v = opts[key];
      if (typeof v === 'string') flags[key] = v;
    }
    const code = await runAgent({ flags, env: process.env });
    process.exit(code);
  });
  cmd
    .command('cleanup')
    .description(
      "uninstall: remove from this node's network namespace the iptables chains and rules, IP sets, routes (protocols 80 and 81) and vxlan.calico devices that tortie or calico-node's Felix own; nothing else is touched (run it after the agent is stopped)",
    )
    .option('--json', 'print the report as JSON')
    .action(async (o: { json?: boolean }) => {
      if (process.getuid?.() !== 0) {
        process.stderr.write('tortie agent cleanup needs root (it changes iptables, IP sets and routes): run it with sudo\n');
        process.exit(1);
      }
      const report = await uninstall({ runner: new ProcessRunner(), protocols: DEFAULT_ROUTE_PROTOCOLS });
      if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else for (const s of report.steps) process.stdout.write(`${s.ok ? 'ok  ' : 'FAIL'}  ${s.step}: ${s.detail}\n`);
      process.exit(report.ok ? 0 : 1);
    });
}
