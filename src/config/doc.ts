/**
 * Renders docs/configuration.md from the settings table. doc.test.ts fails when the checked-in
 * file differs, and rewrites it when run with TORTIE_UPDATE_DOCS=1, so the docs cannot drift
 * from what the agent actually reads.
 */
import { SETTINGS, SETTING_KEYS, flagName, type Setting, type SettingGroup } from './schema.js';
import { PRECEDENCE } from './load.js';
import { HEALTH_PATHS } from '../health/server.js';

const GROUP_TITLES: Record<SettingGroup, string> = {
  node: 'Node',
  datastore: 'Datastore',
  pool: 'Default IP pool',
  logging: 'Logging',
  health: 'Health',
  metrics: 'Metrics',
  dataplane: 'Dataplane',
  tortie: 'tortie',
};

function defaultText(s: Setting<unknown>): string {
  if (s.defaultText) return s.defaultText;
  const d = s.default;
  if (d === undefined) return '(unset)';
  if (typeof d === 'function') return '(computed)';
  return `\`${s.type.format(d)}\``;
}

function cell(s: string): string {
  return s.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function renderConfigurationDoc(): string {
  const lines: string[] = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/schema.ts by src/config/doc.ts. Do not edit by hand:',
    '     change the schema, then run `TORTIE_UPDATE_DOCS=1 node --import tsx --test src/config/doc.test.ts`. -->',
    '',
    '`tortie agent` reads its settings from command-line flags and environment variables, in the',
    "names a calico-node manifest already uses. Precedence, highest first:",
    '',
    ...PRECEDENCE.map((k, i) => `${i + 1}. ${LAYER_TEXT[k]}`),
    `${PRECEDENCE.length + 1}. the built-in default.`,
    '',
    '- `FELIX_*` variables are matched case-insensitively, as Felix does (`FELIX_HEALTHPORT` and',
    '  `felix_healthport` are the same setting; setting both to different values is an error).',
    '  Unknown `FELIX_*` and `TORTIE_*` variables are logged as a warning and ignored.',
    '- Other variables are matched exactly. Where several are listed, the first one set wins.',
    '- An empty value counts as unset.',
    '- Every setting also has a flag, `tortie agent --<flag> VALUE`, which wins over the environment.',
    '- Every invalid value is reported at once and the agent exits with status 2 without starting.',
    '- Settings marked *local* can only be set by flags or environment: the datastore cannot',
    '  tell the agent how to reach the datastore or who it is.',
    '',
  ];
  const groups = new Map<SettingGroup, string[]>();
  for (const key of SETTING_KEYS) {
    const s: Setting<unknown> = SETTINGS[key];
    const rows = groups.get(s.group) ?? [];
    const vars = s.env.map((e) => `\`${e}\``).join(', ');
    const scope = s.felixField ? `FelixConfiguration \`${s.felixField}\`` : '*local*';
    rows.push(
      `| ${vars} | ${s.secret ? '(none: secrets stay out of `ps`)' : `\`--${flagName(key)}\``} | ${cell(defaultText(s))} | ${cell(s.description)} Accepts ${cell(s.type.allowed)}. | ${scope} |`,
    );
    groups.set(s.group, rows);
  }
  for (const [group, rows] of groups) {
    lines.push(`## ${GROUP_TITLES[group]}`, '', '| Variable | Flag | Default | Meaning | Also settable by |', '|---|---|---|---|---|', ...rows, '');
  }
  lines.push(...ENDPOINTS);
  return lines.join('\n');
}

/** What the settings above switch on, so an operator knows what to probe and scrape. */
const ENDPOINTS = [
  '## What the agent serves',
  '',
  `- **Health** (when \`FELIX_HEALTHENABLED\`): ${HEALTH_PATHS.map((p) => `\`${p}\``).join(', ')} on`,
  '  `FELIX_HEALTHHOST:FELIX_HEALTHPORT`. 200 when good, 503 when not; the JSON body names every',
  '  component, whether it is live and ready, and why. Readiness is false until every component that',
  '  reports readiness says ready; with no such component it is false, never assumed.',
  '- **Metrics** (when `FELIX_PROMETHEUSMETRICSENABLED`): `/metrics` on',
  '  `FELIX_PROMETHEUSMETRICSHOST:FELIX_PROMETHEUSMETRICSPORT`, Prometheus text format, including',
  '  the Node.js process metrics (`process_cpu_seconds_total`, ...).',
  '- **Control socket** (always): `TORTIE_CONTROL_SOCKET`, mode 0600, newline-delimited JSON:',
  '  request `{"id":1,"method":"agent.health","params":{}}`, answer `{"id":1,"result":...}` or',
  '  `{"id":1,"error":{"code":"E_...","message":"..."}}`. `methods` lists what the running agent',
  '  offers; the agent itself offers `agent.health`, `agent.config` (effective settings with their',
  '  source, secrets redacted) and `agent.info`.',
  '',
];

const LAYER_TEXT: Record<(typeof PRECEDENCE)[number], string> = {
  flag: 'command-line flags;',
  env: 'environment variables;',
  file: 'a configuration file (not read yet);',
  'felixconfig-node': 'the FelixConfiguration named `node.<nodename>` (not read yet);',
  'felixconfig-global': 'the FelixConfiguration named `default` (not read yet);',
};
