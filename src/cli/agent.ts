/**
 * `tortie agent`: the per-node agent (what calico-node is in a Calico cluster). Every setting in
 * the configuration table is also a flag; flags win over the environment.
 */
import { Command, Option } from 'commander';
import { SETTINGS, SETTING_KEYS, flagName, type SettingKey } from '../config/schema.js';
import { runAgent } from '../agent/run.js';

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
}
