/**
 * `tortie datastore ...`: look at the datastore the way the agent does.
 *   dump   run a syncer (felix or bgp) until InSync and print its model as Calico resource YAML
 *   check  validate Calico resource files offline, reporting every problem with its field path
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { ResourceCache } from '../datastore/cache.js';
import { checkResourcesText } from '../datastore/check.js';
import { etcdConfigFromEnv } from '../datastore/etcd/options.js';
import { datastoreTypeFromEnv, openBackend } from '../datastore/factory.js';
import { kindFromUserInput, RESOURCE_KINDS, type ResourceKind } from '../datastore/model/index.js';
import { bgpScopes, felixScopes } from '../datastore/syncer.js';
import { WatcherSyncer } from '../datastore/watchersyncer.js';
import { UserError } from '../util/errors.js';
import { createLogger } from '../util/log.js';

/** How long `dump` waits for InSync by default: a large cluster lists in seconds; 30 s flags a real problem. */
const DEFAULT_DUMP_TIMEOUT_S = 30;

interface DumpOptions {
  kind?: string;
  syncer: string;
  node?: string;
  etcdEndpoints?: string;
  datastoreType?: string;
  timeout: string;
  logLevel: string;
}

async function dump(opts: DumpOptions): Promise<void> {
  let kind: ResourceKind | undefined;
  if (opts.kind) {
    kind = kindFromUserInput(opts.kind);
    if (!kind) throw new UserError(`unknown kind ${JSON.stringify(opts.kind)}; one of: ${RESOURCE_KINDS.join(', ')}`);
  }
  const timeoutS = Number(opts.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UserError(`--timeout must be a positive number of seconds, got ${JSON.stringify(opts.timeout)}`);
  if (opts.syncer !== 'felix' && opts.syncer !== 'bgp') throw new UserError('--syncer must be felix or bgp');
  const node = opts.node ?? process.env.NODENAME;
  if (opts.syncer === 'bgp' && !node) throw new UserError('--syncer bgp needs --node (or NODENAME)');

  const type = opts.datastoreType ? datastoreTypeFromEnv({ DATASTORE_TYPE: opts.datastoreType }) : datastoreTypeFromEnv();
  const etcd = etcdConfigFromEnv(opts.etcdEndpoints ? { ...process.env, ETCD_ENDPOINTS: opts.etcdEndpoints } : process.env);
  const logger = createLogger({ level: opts.logLevel, destination: process.stderr as never });
  const backend = await openBackend({ type, etcd, nodeName: node, logger });
  const scopes = (opts.syncer === 'bgp' ? bgpScopes(node!) : felixScopes(type)).filter((s) => !kind || s.kind === kind);
  if (scopes.length === 0) throw new UserError(`the ${opts.syncer} syncer does not carry ${kind}`);
  const syncer = new WatcherSyncer({ name: `dump-${opts.syncer}`, backend, scopes, logger });
  const cache = new ResourceCache().attach(syncer);
  try {
    const inSync = new Promise<void>((resolve) => syncer.onStatus((s) => s === 'InSync' && resolve()));
    syncer.start();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_r, reject) => {
      timer = setTimeout(
        () => reject(new UserError(`datastore (${backend.description}) not in sync after ${timeoutS} s (status ${syncer.status}); check the endpoints and the log above`)),
        timeoutS * 1000,
      );
    });
    try {
      await Promise.race([inSync, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    const out = cache.list(kind).map((r) => `---\n${stringify(r, { lineWidth: 0 })}`);
    process.stdout.write(out.join(''));
    process.stderr.write(`${cache.size} resource(s) from ${backend.description}\n`);
  } finally {
    await syncer.stop();
    await backend.close();
  }
}

function check(files: string[]): void {
  let problems = 0;
  let resources = 0;
  for (const file of files) {
    let text: string;
    try {
      text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const r = checkResourcesText(text);
    const prefix = files.length > 1 ? `${file}: ` : '';
    for (const p of r.problems) process.stdout.write(`${prefix}${p}\n`);
    problems += r.problems.length;
    resources += r.resources;
  }
  if (problems > 0) throw new UserError(`${problems} problem(s) in ${resources} resource(s)`, { code: 'E_INVALID_RESOURCES', exitCode: 1 });
  process.stderr.write(`${resources} resource(s) valid\n`);
}

export function register(program: Command): void {
  const ds = program.command('datastore').description('Inspect and validate Calico datastore resources');
  ds.command('dump')
    .description('Print what the syncer sees, as Calico resource YAML, once it is in sync')
    .option('--kind <kind>', 'only this kind (IPPool, ippools, WorkloadEndpoint, ...)')
    .option('--syncer <name>', 'felix or bgp', 'felix')
    .option('--node <name>', 'node name for the bgp syncer (default $NODENAME)')
    .option('--etcd-endpoints <urls>', 'comma-separated etcd URLs (default $ETCD_ENDPOINTS)')
    .option('--datastore-type <type>', 'etcdv3 or kubernetes (default $DATASTORE_TYPE, else etcdv3)')
    .option('--timeout <seconds>', 'how long to wait for InSync', String(DEFAULT_DUMP_TIMEOUT_S))
    .option('--log-level <level>', 'log level on stderr', 'warning')
    .action((o: DumpOptions) => dump(o));
  ds.command('check')
    .description('Validate Calico resource files offline (multi-document YAML, kind: List); exit 1 on any problem')
    .argument('<files...>', 'YAML or JSON files, - for stdin')
    .action((files: string[]) => check(files));
}
