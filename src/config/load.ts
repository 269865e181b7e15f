/**
 * Turns raw settings from several sources into one validated AgentConfig.
 *
 * Precedence is an explicit, ordered list of layers (PRECEDENCE below), highest first:
 *
 *   flags > environment > config file* > FelixConfiguration node.<name>* > FelixConfiguration default* > built-in default
 *
 * (* not read yet: the layer kinds exist so they can be added by producing a ConfigLayer, without
 * touching the resolver.) FelixConfiguration layers may only set settings that have a
 * `felixField`; the datastore cannot tell the agent how to reach the datastore.
 *
 * Every problem is collected before failing, so an operator fixes a manifest in one round trip
 * instead of one error per restart.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import {
  SETTINGS,
  SETTING_KEYS,
  flagName,
  realDefaultContext,
  type AgentConfig,
  type DefaultContext,
  type Setting,
  type SettingKey,
} from './schema.js';

export type LayerKind = 'flag' | 'env' | 'file' | 'felixconfig-node' | 'felixconfig-global';

/** Highest precedence first. Adding a source means adding its kind here and producing a layer. */
export const PRECEDENCE: readonly LayerKind[] = ['flag', 'env', 'file', 'felixconfig-node', 'felixconfig-global'];

/** A source that cannot tell the agent how to reach the datastore. */
const DATASTORE_LAYERS: ReadonlySet<LayerKind> = new Set(['felixconfig-node', 'felixconfig-global']);

export interface RawValue {
  raw: string;
  /** Where the operator wrote it, for messages: `FELIX_HEALTHPORT`, `--health-port`, `FelixConfiguration default spec.healthPort`. */
  origin: string;
}

export interface ConfigLayer {
  kind: LayerKind;
  values: Partial<Record<SettingKey, RawValue>>;
  /**
   * What to do with a value that does not parse. Local sources fail startup; datastore sources
   * (later) will be logged and skipped as Felix does, because one bad cluster-wide resource must
   * not stop every node.
   */
  onInvalid: 'fail' | 'skip';
}

export interface ValueSource {
  kind: LayerKind | 'default';
  origin?: string;
}

export interface LoadedConfig {
  config: AgentConfig;
  sources: Record<SettingKey, ValueSource>;
  /** Things worth a log line but not a refusal to start (unknown FELIX_* variables, skipped values). */
  warnings: string[];
}

/** All configuration problems at once; the CLI prints the message and exits 2. */
export class ConfigError extends UserError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    const head = problems.length === 1 ? 'invalid configuration:' : `invalid configuration (${problems.length} problems):`;
    super(`${head}\n${problems.map((p) => `  - ${p}`).join('\n')}`, { code: 'E_CONFIG' });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** `tortie agent` flag values by setting key, as commander parsed them (strings). */
  flags?: Partial<Record<SettingKey, string>>;
  env?: Record<string, string | undefined>;
  /** Further layers (config file, FelixConfiguration) once they exist; placed by PRECEDENCE. */
  extraLayers?: ConfigLayer[];
  defaults?: DefaultContext;
  fileExists?: (path: string) => boolean;
}

/** Loads flags and environment, resolves, validates; throws ConfigError listing every problem. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = envLayer(opts.env ?? process.env);
  const layers = [flagLayer(opts.flags ?? {}), env.layer, ...(opts.extraLayers ?? [])];
  const resolved = resolveLayers(layers, opts.defaults ?? realDefaultContext, opts.fileExists ?? existsSync);
  const problems = [...env.problems, ...resolved.problems];
  if (problems.length > 0) throw new ConfigError(problems);
  return { config: resolved.config, sources: resolved.sources, warnings: [...env.warnings, ...resolved.warnings] };
}

export function flagLayer(flags: Partial<Record<SettingKey, string>>): ConfigLayer {
  const values: ConfigLayer['values'] = {};
  for (const key of SETTING_KEYS) {
    const raw = flags[key];
    // Secrets have no flag: a command line is readable by every user through /proc and `ps`.
    if (raw !== undefined && SETTINGS[key].secret !== true) values[key] = { raw, origin: `--${flagName(key)}` };
  }
  return { kind: 'flag', values, onInvalid: 'fail' };
}

const FELIX_PREFIX = 'felix_';
const TORTIE_PREFIX = 'tortie_';

/**
 * Reads settings from the environment. `FELIX_*` names match case-insensitively (Felix lower-cases
 * them); other names match exactly, as calico-node reads them. An empty value counts as unset, so
 * a manifest's `IP: ""` means the default. Unknown `FELIX_*`/`TORTIE_*` variables are warnings:
 * calico-node manifests carry Felix settings tortie does not implement, and Felix ignores unknown ones.
 */
export function envLayer(env: Record<string, string | undefined>): { layer: ConfigLayer; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  // Lower-cased FELIX_* name -> every spelling present with a value.
  const felix = new Map<string, { name: string; value: string }[]>();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    const lower = name.toLowerCase();
    if (!lower.startsWith(FELIX_PREFIX)) continue;
    const list = felix.get(lower) ?? [];
    list.push({ name, value });
    felix.set(lower, list);
  }

  const known = new Set<string>();
  const values: ConfigLayer['values'] = {};
  for (const key of SETTING_KEYS) {
    const s: Setting<unknown> = SETTINGS[key];
    for (const name of s.env) {
      known.add(name.toLowerCase());
      let found: RawValue | undefined;
      if (name.toLowerCase().startsWith(FELIX_PREFIX)) {
        const spellings = felix.get(name.toLowerCase()) ?? [];
        const distinct = new Set(spellings.map((x) => x.value));
        if (distinct.size > 1) {
          problems.push(
            `${spellings.map((x) => x.name).join(' and ')} are the same setting but have different values; set only one`,
          );
        }
        if (spellings[0]) found = { raw: spellings[0].value, origin: spellings[0].name };
      } else {
        const v = env[name];
        if (v !== undefined && v !== '') found = { raw: v, origin: name };
      }
      if (found) {
        values[key] = found;
        break;
      }
    }
  }

  const unknown = Object.keys(env)
    .filter((n) => {
      const l = n.toLowerCase();
      if (known.has(l)) return false;
      // FELIX_* names are case-insensitive; TORTIE_* are ours, so a typo there is worth a warning too.
      return l.startsWith(FELIX_PREFIX) || n.startsWith(TORTIE_PREFIX.toUpperCase());
    })
    .sort();
  if (unknown.length > 0) {
    warnings.push(`ignoring environment variables tortie does not know: ${unknown.join(', ')}`);
  }
  return { layer: { kind: 'env', values, onInvalid: 'fail' }, problems, warnings };
}

function describe(key: SettingKey, rv: RawValue): string {
  const shown = SETTINGS[key].secret === true ? '<redacted>' : JSON.stringify(rv.raw);
  return `${rv.origin}=${shown}`;
}

/** Backticks are for the markdown docs; a terminal reads better without them. */
function plain(s: string): string {
  return s.replaceAll('`', '');
}

/**
 * Resolves each setting from the highest-precedence layer that has it, then checks combinations.
 * Every layer's values are validated, not only the winning ones: a typo in a shadowed source is
 * still a typo the operator wants to hear about.
 */
export function resolveLayers(
  layers: readonly ConfigLayer[],
  defaults: DefaultContext = realDefaultContext,
  fileExists: (path: string) => boolean = existsSync,
): { config: AgentConfig; sources: Record<SettingKey, ValueSource>; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const ordered = [...layers].sort((a, b) => PRECEDENCE.indexOf(a.kind) - PRECEDENCE.indexOf(b.kind));
  const config: Record<string, unknown> = {};
  const sources = {} as Record<SettingKey, ValueSource>;

  for (const key of SETTING_KEYS) {
    const s: Setting<unknown> = SETTINGS[key];
    let chosen: { value: unknown; source: ValueSource } | undefined;
    for (const layer of ordered) {
      const rv = layer.values[key];
      if (!rv) continue;
      if (DATASTORE_LAYERS.has(layer.kind) && s.felixField === undefined) {
        warnings.push(`${rv.origin}: ${key} can only be set locally (flag or environment); ignored`);
        continue;
      }
      const parsed = s.type.schema.safeParse(rv.raw);
      if (!parsed.success) {
        const msg = `${describe(key, rv)}: expected ${plain(s.type.allowed)}`;
        if (layer.onInvalid === 'fail') problems.push(msg);
        else warnings.push(`${msg}; ignored`);
        continue;
      }
      if (s.mustExist && typeof parsed.data === 'string' && !fileExists(parsed.data)) {
        problems.push(`${describe(key, rv)}: file does not exist`);
        continue;
      }
      chosen ??= { value: parsed.data, source: { kind: layer.kind, origin: rv.origin } };
    }
    if (chosen) {
      config[key] = chosen.value;
      sources[key] = chosen.source;
    } else {
      const d = s.default;
      let value: unknown = typeof d === 'function' ? (d as (c: DefaultContext) => unknown)(defaults) : d;
      if (typeof d === 'function') {
        // A computed default (the host name) can itself be invalid: say which setting fixes it.
        const parsed = s.type.schema.safeParse(String(value));
        if (!parsed.success) {
          problems.push(
            `${key} defaults to ${JSON.stringify(value)} (${plain(s.defaultText ?? 'computed')}), which is not ${plain(s.type.allowed)}; set ${s.env[0]}`,
          );
        } else {
          value = parsed.data;
        }
      }
      config[key] = value;
      sources[key] = { kind: 'default' };
    }
  }

  const cfg = config as AgentConfig;
  problems.push(...checkCombinations(cfg, sources));
  return { config: cfg, sources, problems, warnings };
}

/** Where a setting's value came from, for messages about combinations. */
function where(key: SettingKey, sources: Record<SettingKey, ValueSource>, cfg: AgentConfig): string {
  const src = sources[key];
  const value = cfg[key];
  const shown = Array.isArray(value) ? value.join(',') : String(value);
  return src.kind === 'default' ? `${SETTINGS[key].env[0]}=${shown} (default)` : `${src.origin}=${shown}`;
}

/** Settings that are each valid but do not work together. */
function checkCombinations(cfg: AgentConfig, sources: Record<SettingKey, ValueSource>): string[] {
  const problems: string[] = [];
  const w = (k: SettingKey): string => where(k, sources, cfg);

  if (cfg.ipv4PoolIpip !== 'Never' && cfg.ipv4PoolVxlan !== 'Never') {
    problems.push(`${w('ipv4PoolIpip')} and ${w('ipv4PoolVxlan')}: a pool uses IPIP or VXLAN, not both; set one of them to Never`);
  }
  if (cfg.networkingBackend !== 'bird' && cfg.ipv4PoolIpip !== 'Never') {
    problems.push(
      `${w('ipv4PoolIpip')} needs BGP to distribute routes, but ${w('networkingBackend')}; set CALICO_IPV4POOL_IPIP=Never (and CALICO_IPV4POOL_VXLAN=Always for VXLAN)`,
    );
  }
  if ((cfg.etcdCertFile === undefined) !== (cfg.etcdKeyFile === undefined)) {
    problems.push('ETCD_CERT_FILE and ETCD_KEY_FILE: set both (a client certificate needs its key) or neither');
  }
  if ((cfg.etcdUsername === undefined) !== (cfg.etcdPassword === undefined)) {
    problems.push('ETCD_USERNAME and ETCD_PASSWORD: set both or neither');
  }
  if (
    cfg.healthEnabled &&
    cfg.prometheusMetricsEnabled &&
    cfg.healthPort === cfg.prometheusMetricsPort &&
    hostsOverlap(cfg.healthHost, cfg.prometheusMetricsHost)
  ) {
    problems.push(`${w('healthPort')} and ${w('prometheusMetricsPort')}: the health and metrics servers cannot share a port`);
  }
  return problems;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

function hostsOverlap(a: string, b: string): boolean {
  return a === b || WILDCARDS.has(a) || WILDCARDS.has(b);
}

/**
 * The effective configuration for `agent.config` and the startup log: every value with where it
 * came from, secrets replaced and credentials stripped from URLs.
 */
export function redactConfig(loaded: Pick<LoadedConfig, 'config' | 'sources'>): Record<string, { value: unknown; source: string }> {
  const out: Record<string, { value: unknown; source: string }> = {};
  for (const key of SETTING_KEYS) {
    const s: Setting<unknown> = SETTINGS[key];
    let value: unknown = loaded.config[key];
    if (s.secret && value !== undefined) value = '<redacted>';
    else if (key === 'etcdEndpoints' && Array.isArray(value)) value = value.map(stripUserinfo);
    const src = loaded.sources[key];
    out[key] = { value: value === undefined ? null : value, source: src.kind === 'default' ? 'default' : `${src.kind} ${src.origin ?? ''}`.trim() };
  }
  return out;
}

function stripUserinfo(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  } catch {
    return url;
  }
}
