/**
 * Every setting tortie reads, in one table: its name, where it comes from, its type, default and
 * meaning. The loader (load.ts), the `tortie agent` flags (cli/agent.ts) and docs/configuration.md
 * (doc.ts) are all generated from this table, so adding a setting is one entry here.
 *
 * Naming follows what a calico-node manifest already says:
 *  - Felix parameters keep Felix's names and are read from `FELIX_<NAME>`, matched
 *    case-insensitively as Felix does; `felixField` names the FelixConfiguration spec field so
 *    that layer can be added later without touching each setting.
 *  - calico-node's own variables (NODENAME, DATASTORE_TYPE, ETCD_*, IP, AS, CALICO_*) keep their
 *    exact upper-case names.
 *  - tortie's own settings are `TORTIE_<WORDS>`, upper case with underscores like calico-node's.
 */
import { hostname } from 'node:os';
import {
  type ValueType,
  absPathType,
  asNumberType,
  autodetectMethodType,
  boolType,
  enumType,
  hostAddressType,
  ifacePrefixListType,
  intType,
  ipv4CidrType,
  failsafePortsType,
  markMaskType,
  portRangeType,
  mtuType,
  nodeIPType,
  nodeNameType,
  portType,
  secondsType,
  socketPathType,
  stringType,
  urlListType,
} from './parsers.js';
import { DEFAULT_CONTROL_SOCKET_PATH } from '../agent/control.js';

/** Things a default may depend on, injected so tests do not depend on the machine. */
export interface DefaultContext {
  hostname(): string;
}

export const realDefaultContext: DefaultContext = { hostname };

export type SettingGroup = 'node' | 'datastore' | 'pool' | 'logging' | 'health' | 'metrics' | 'dataplane' | 'tortie';

export interface Setting<T> {
  /** Environment variables, highest precedence first. Names starting `FELIX_` match case-insensitively. */
  readonly env: readonly string[];
  readonly type: ValueType<T>;
  /** Value when nothing sets it; undefined means "not set" (the consumer decides). */
  readonly default: T | undefined | ((ctx: DefaultContext) => T);
  /** How the default reads in the docs when it is computed. */
  readonly defaultText?: string;
  readonly description: string;
  readonly group: SettingGroup;
  /**
   * The FelixConfiguration spec field that may also set this (node.<name> over default), or
   * undefined for settings only local sources may set (where to find the datastore, the node's
   * name: Felix marks these `local` because the datastore cannot tell you how to reach it).
   */
  readonly felixField?: string;
  /** Never shown in logs or `agent.config`. */
  readonly secret?: boolean;
  /** A file that must exist when set. */
  readonly mustExist?: boolean;
}

/** Keeps the literal type of `default`, so AgentConfig knows which settings are always present. */
function setting<T, D extends NoInfer<T> | undefined | ((ctx: DefaultContext) => NoInfer<T>)>(
  s: Omit<Setting<T>, 'default'> & { default: D },
): Setting<T> & { default: D } {
  return s;
}

export const LOG_SEVERITIES = ['Trace', 'Debug', 'Info', 'Warning', 'Error', 'Fatal'] as const;
export type LogSeverity = (typeof LOG_SEVERITIES)[number];

export const DATASTORE_TYPES = ['etcdv3', 'kubernetes'] as const;
export type DatastoreType = (typeof DATASTORE_TYPES)[number];

export const ENCAP_MODES = ['Always', 'CrossSubnet', 'Never'] as const;
export type EncapMode = (typeof ENCAP_MODES)[number];

export const NETWORKING_BACKENDS = ['bird', 'vxlan', 'none'] as const;
export type NetworkingBackend = (typeof NETWORKING_BACKENDS)[number];

/**
 * The table. Keys are the names code uses (`config.healthPort`) and, in kebab case, the
 * `tortie agent` flags (`--health-port`).
 */
export const SETTINGS = {
  // --- node identity -------------------------------------------------------------------------
  nodename: setting({
    env: ['NODENAME', 'FELIX_FELIXHOSTNAME', 'HOSTNAME'],
    type: nodeNameType,
    default: (ctx) => ctx.hostname().trim().toLowerCase(),
    defaultText: 'the host name, lower-cased',
    description:
      'Name of this node: the Calico Node resource, per-node BGP and Felix configuration and the workload endpoints on this host are found by it. Must match the Kubernetes node name.',
    group: 'node',
  }),
  ip: setting({
    env: ['IP'],
    type: nodeIPType,
    default: undefined,
    defaultText: '(unset: keep the Node resource address, detect one if it has none)',
    description: "This node's IPv4 address, used as BGP router id, BGP source and tunnel endpoint.",
    group: 'node',
  }),
  ipAutodetectionMethod: setting({
    env: ['IP_AUTODETECTION_METHOD'],
    type: autodetectMethodType,
    default: 'first-found',
    description: 'How to find the node IPv4 address when it is detected.',
    group: 'node',
  }),
  as: setting({
    env: ['AS'],
    type: asNumberType,
    default: undefined,
    defaultText: '(unset: Node resource, else BGPConfiguration, else 64512)',
    description: "This node's BGP AS number.",
    group: 'node',
  }),
  networkingBackend: setting({
    env: ['CALICO_NETWORKING_BACKEND'],
    type: enumType(NETWORKING_BACKENDS),
    default: 'bird',
    description: '`bird`: run the BGP speaker; `vxlan`: VXLAN only, no BGP; `none`: policy only, no routing.',
    group: 'node',
  }),

  // --- datastore -----------------------------------------------------------------------------
  datastoreType: setting({
    env: ['DATASTORE_TYPE', 'CALICO_DATASTORE_TYPE', 'FELIX_DATASTORETYPE'],
    type: enumType(DATASTORE_TYPES),
    default: 'etcdv3',
    description: 'Where Calico resources are read from: etcd v3 or the Kubernetes API.',
    group: 'datastore',
  }),
  etcdEndpoints: setting({
    env: ['ETCD_ENDPOINTS', 'CALICO_ETCD_ENDPOINTS', 'FELIX_ETCDENDPOINTS'],
    type: urlListType,
    default: ['http://127.0.0.1:2379'],
    description: 'etcd servers (DATASTORE_TYPE=etcdv3).',
    group: 'datastore',
  }),
  etcdCaCertFile: setting({
    env: ['ETCD_CA_CERT_FILE', 'CALICO_ETCD_CA_CERT_FILE', 'FELIX_ETCDCAFILE'],
    type: absPathType,
    default: undefined,
    description: 'CA bundle that signed the etcd server certificates.',
    group: 'datastore',
    mustExist: true,
  }),
  etcdCertFile: setting({
    env: ['ETCD_CERT_FILE', 'CALICO_ETCD_CERT_FILE', 'FELIX_ETCDCERTFILE'],
    type: absPathType,
    default: undefined,
    description: 'Client certificate for etcd mutual TLS (needs ETCD_KEY_FILE).',
    group: 'datastore',
    mustExist: true,
  }),
  etcdKeyFile: setting({
    env: ['ETCD_KEY_FILE', 'CALICO_ETCD_KEY_FILE', 'FELIX_ETCDKEYFILE'],
    type: absPathType,
    default: undefined,
    description: 'Private key of the etcd client certificate (needs ETCD_CERT_FILE).',
    group: 'datastore',
    mustExist: true,
  }),
  etcdUsername: setting({
    env: ['ETCD_USERNAME', 'CALICO_ETCD_USERNAME'],
    type: stringType,
    default: undefined,
    description: 'etcd user name, when etcd authentication is on.',
    group: 'datastore',
  }),
  etcdPassword: setting({
    env: ['ETCD_PASSWORD', 'CALICO_ETCD_PASSWORD'],
    type: stringType,
    default: undefined,
    description: 'etcd password (never logged).',
    group: 'datastore',
    secret: true,
  }),
  kubeconfig: setting({
    env: ['KUBECONFIG', 'CALICO_KUBECONFIG'],
    type: absPathType,
    default: undefined,
    defaultText: '(unset: in-cluster service account)',
    description: 'kubeconfig file for the Kubernetes API (DATASTORE_TYPE=kubernetes).',
    group: 'datastore',
    mustExist: true,
  }),

  // --- default IP pool -----------------------------------------------------------------------
  ipv4PoolCidr: setting({
    env: ['CALICO_IPV4POOL_CIDR'],
    type: ipv4CidrType,
    default: '192.168.0.0/16',
    description: 'IPv4 pool created at startup when no pool exists.',
    group: 'pool',
  }),
  ipv4PoolIpip: setting({
    env: ['CALICO_IPV4POOL_IPIP'],
    type: enumType(ENCAP_MODES, { Off: 'Never' }),
    default: 'Always',
    description: 'IPIP mode of the pool created at startup. At most one of IPIP and VXLAN may be enabled.',
    group: 'pool',
  }),
  ipv4PoolVxlan: setting({
    env: ['CALICO_IPV4POOL_VXLAN'],
    type: enumType(ENCAP_MODES),
    default: 'Never',
    description: 'VXLAN mode of the pool created at startup.',
    group: 'pool',
  }),
  ipv4PoolNatOutgoing: setting({
    env: ['CALICO_IPV4POOL_NAT_OUTGOING'],
    type: boolType,
    default: true,
    description: 'Masquerade traffic from the pool created at startup to destinations outside all pools.',
    group: 'pool',
  }),

  // --- logging -------------------------------------------------------------------------------
  logSeverityScreen: setting({
    env: ['FELIX_LOGSEVERITYSCREEN'],
    type: enumType(LOG_SEVERITIES),
    default: 'Info',
    description: 'Lowest severity written to stdout (JSON lines).',
    group: 'logging',
    felixField: 'logSeverityScreen',
  }),

  // --- health --------------------------------------------------------------------------------
  healthEnabled: setting({
    env: ['FELIX_HEALTHENABLED'],
    type: boolType,
    // Felix defaults to false and calico-node manifests turn it on; tortie always wants its probes.
    default: true,
    description: 'Serve `/liveness`, `/readiness` and `/health` over HTTP. (Felix defaults to false and calico-node manifests set it; tortie defaults to true.)',
    group: 'health',
    felixField: 'healthEnabled',
  }),
  healthHost: setting({
    env: ['FELIX_HEALTHHOST'],
    type: hostAddressType,
    // Felix says "localhost"; a literal avoids depending on /etc/hosts and on ::1 vs 127.0.0.1.
    default: '127.0.0.1',
    description: 'Address the health server listens on.',
    group: 'health',
    felixField: 'healthHost',
  }),
  healthPort: setting({
    env: ['FELIX_HEALTHPORT'],
    type: portType,
    default: 9099,
    description: 'Port of the health server.',
    group: 'health',
    felixField: 'healthPort',
  }),
  datastoreLossReadinessTimeout: setting({
    env: ['TORTIE_DATASTORE_LOSS_READINESS_TIMEOUT'],
    type: secondsType,
    // Long enough to ride out an API server restart or an etcd leader election (seconds to tens
    // of seconds) without flapping every node NotReady; short enough that a real outage shows
    // within a minute. The dataplane keeps forwarding on its last state meanwhile either way.
    default: 60,
    description:
      'How long the agent stays ready after losing its datastore connection. Forwarding continues on the last known state regardless; this only decides when readiness reports the loss.',
    group: 'health',
  }),

  // --- metrics -------------------------------------------------------------------------------
  prometheusMetricsEnabled: setting({
    env: ['FELIX_PROMETHEUSMETRICSENABLED'],
    type: boolType,
    default: false,
    description: 'Serve Prometheus metrics at `/metrics`.',
    group: 'metrics',
    felixField: 'prometheusMetricsEnabled',
  }),
  prometheusMetricsHost: setting({
    env: ['FELIX_PROMETHEUSMETRICSHOST'],
    type: hostAddressType,
    // Calico listens on all interfaces. The metrics name peers, endpoint and policy counts: node
    // topology an attacker on the pod network should not read. Loopback by default; scraping from
    // another host is a deliberate `0.0.0.0` or node-IP setting.
    default: '127.0.0.1',
    description:
      'Address the metrics server listens on. Calico listens on all interfaces; tortie defaults to loopback so node topology is not exposed by accident. Set `0.0.0.0` (or the node IP) for Prometheus to scrape it from elsewhere.',
    group: 'metrics',
    felixField: 'prometheusMetricsHost',
  }),
  prometheusMetricsPort: setting({
    env: ['FELIX_PROMETHEUSMETRICSPORT'],
    type: portType,
    default: 9091,
    description: 'Port of the metrics server.',
    group: 'metrics',
    felixField: 'prometheusMetricsPort',
  }),

  // --- dataplane -----------------------------------------------------------------------------
  routeRefreshInterval: setting({
    env: ['FELIX_ROUTEREFRESHINTERVAL'],
    type: secondsType,
    default: 90,
    description: 'How often routes are re-read from the kernel and repaired; 0 disables.',
    group: 'dataplane',
    felixField: 'routeRefreshInterval',
  }),
  iptablesRefreshInterval: setting({
    env: ['FELIX_IPTABLESREFRESHINTERVAL'],
    type: secondsType,
    default: 180,
    description: 'How often iptables rules are re-checked and repaired; 0 disables.',
    group: 'dataplane',
    felixField: 'iptablesRefreshInterval',
  }),
  ipsetsRefreshInterval: setting({
    env: ['FELIX_IPSETSREFRESHINTERVAL'],
    type: secondsType,
    default: 90,
    description: 'How often ipsets are re-checked and repaired; 0 disables.',
    group: 'dataplane',
    felixField: 'ipsetsRefreshInterval',
  }),
  interfaceRefreshInterval: setting({
    env: ['FELIX_INTERFACEREFRESHINTERVAL'],
    type: secondsType,
    default: 90,
    description: 'How often interfaces are re-listed, in case a netlink event was missed; 0 disables.',
    group: 'dataplane',
    felixField: 'interfaceRefreshInterval',
  }),
  interfacePrefix: setting({
    env: ['FELIX_INTERFACEPREFIX'],
    type: ifacePrefixListType,
    default: ['cali'],
    description: 'Name prefixes of the host-side interfaces of workloads.',
    group: 'dataplane',
    felixField: 'interfacePrefix',
  }),
  deviceRouteProtocol: setting({
    env: ['FELIX_DEVICEROUTEPROTOCOL'],
    type: intType(1, 255),
    default: 3,
    description: 'Kernel route protocol number on workload routes; how tortie recognises its own routes.',
    group: 'dataplane',
    felixField: 'deviceRouteProtocol',
  }),
  vxlanVni: setting({
    env: ['FELIX_VXLANVNI'],
    type: intType(1, 16777215, 'an integer VNI from 1 to 16777215 (24 bits)'),
    default: 4096,
    description: 'VNI of `vxlan.calico`.',
    group: 'dataplane',
    felixField: 'vxlanVNI',
  }),
  vxlanPort: setting({
    env: ['FELIX_VXLANPORT'],
    type: portType,
    default: 4789,
    description: 'UDP port of `vxlan.calico`.',
    group: 'dataplane',
    felixField: 'vxlanPort',
  }),
  vxlanMtu: setting({
    env: ['FELIX_VXLANMTU'],
    type: mtuType,
    default: 0,
    description: 'MTU of `vxlan.calico`; 0 means the smallest uplink MTU minus 50.',
    group: 'dataplane',
    felixField: 'vxlanMTU',
  }),
  ipInIpMtu: setting({
    env: ['FELIX_IPINIPMTU'],
    type: mtuType,
    default: 0,
    description: 'MTU of `tunl0`; 0 means the smallest uplink MTU minus 20.',
    group: 'dataplane',
    felixField: 'ipipMTU',
  }),

  // --- policy dataplane (iptables, ipsets) ---------------------------------------------------
  iptablesBackend: setting({
    env: ['FELIX_IPTABLESBACKEND'],
    type: enumType(['auto', 'legacy', 'nft'] as const, { NFT: 'nft', Legacy: 'legacy', Auto: 'auto' }),
    default: 'auto',
    description: '`auto` uses whichever of iptables-legacy and iptables-nft the host (kube-proxy) already uses, nft when neither holds rules; `legacy` / `nft` force one. tortie never writes both.',
    group: 'dataplane',
    felixField: 'iptablesBackend',
  }),
  chainInsertMode: setting({
    env: ['FELIX_CHAININSERTMODE'],
    type: enumType(['insert', 'append'] as const, { Insert: 'insert', Append: 'append' }),
    default: 'insert',
    description: '`insert`: tortie\'s jumps go at the top of INPUT, FORWARD, OUTPUT, ... (policy is always enforced); `append`: at the bottom, after rules of other software.',
    group: 'dataplane',
    felixField: 'chainInsertMode',
  }),
  defaultEndpointToHostAction: setting({
    env: ['FELIX_DEFAULTENDPOINTTOHOSTACTION'],
    type: enumType(['Drop', 'Accept', 'Return'] as const),
    default: 'Drop',
    description: 'What happens to traffic from a workload to its own host after the workload\'s egress policy allowed it: `Drop`, `Accept`, or `Return` (on to the host\'s INPUT rules).',
    group: 'dataplane',
    felixField: 'defaultEndpointToHostAction',
  }),
  failsafeInboundHostPorts: setting({
    env: ['FELIX_FAILSAFEINBOUNDHOSTPORTS'],
    type: failsafePortsType,
    default: undefined,
    defaultText: 'tcp:22,udp:68,tcp:179,tcp:2379,tcp:2380,tcp:5473,tcp:6443,tcp:6666,tcp:6667',
    description: 'Ports the host always accepts, whatever host endpoint policy says, so a policy mistake cannot cut off SSH, DHCP, BGP, etcd or the API server.',
    group: 'dataplane',
    felixField: 'failsafeInboundHostPorts',
  }),
  failsafeOutboundHostPorts: setting({
    env: ['FELIX_FAILSAFEOUTBOUNDHOSTPORTS'],
    type: failsafePortsType,
    default: undefined,
    defaultText: 'udp:53,udp:67,tcp:179,tcp:2379,tcp:2380,tcp:5473,tcp:6443,tcp:6666,tcp:6667',
    description: 'Ports the host may always connect to, whatever host endpoint policy says.',
    group: 'dataplane',
    felixField: 'failsafeOutboundHostPorts',
  }),
  iptablesMarkMask: setting({
    env: ['FELIX_IPTABLESMARKMASK'],
    type: markMaskType,
    default: 0xffff0000,
    description: 'Packet mark bits tortie may use (accept, pass, drop, scratch and endpoint marks are taken from it, lowest first).',
    group: 'dataplane',
    felixField: 'iptablesMarkMask',
  }),
  iptablesLockTimeout: setting({
    env: ['FELIX_IPTABLESLOCKTIMEOUTSECS'],
    type: secondsType,
    default: 30,
    description: 'How long one iptables-restore waits for the xtables lock (legacy backend; iptables-nft needs no lock) before that apply fails and is retried with backoff.',
    group: 'dataplane',
    felixField: 'iptablesLockTimeoutSecs',
  }),
  iptablesPostWriteCheckInterval: setting({
    env: ['FELIX_IPTABLESPOSTWRITECHECKINTERVALSECS'],
    type: secondsType,
    default: 5,
    description: 'After writing iptables, read the tables back this much later, in case another program (kube-proxy, an old Felix) rewrote them at the same moment; 0 disables.',
    group: 'dataplane',
    felixField: 'iptablesPostWriteCheckIntervalSecs',
  }),
  iptablesFilterAllowAction: setting({
    env: ['FELIX_IPTABLESFILTERALLOWACTION'],
    type: enumType(['Accept', 'Return'] as const),
    default: 'Accept',
    description: 'What an allowed packet does in the filter table: `Accept`, or `Return` to let later rules of other software see it.',
    group: 'dataplane',
    felixField: 'iptablesFilterAllowAction',
  }),
  iptablesMangleAllowAction: setting({
    env: ['FELIX_IPTABLESMANGLEALLOWACTION'],
    type: enumType(['Accept', 'Return'] as const),
    default: 'Accept',
    description: 'The same for preDNAT policy in the mangle table.',
    group: 'dataplane',
    felixField: 'iptablesMangleAllowAction',
  }),
  iptablesFilterDenyAction: setting({
    env: ['FELIX_IPTABLESFILTERDENYACTION'],
    type: enumType(['Drop', 'Reject'] as const),
    default: 'Drop',
    description: 'What a denied packet gets: `Drop`, or `Reject` (an ICMP error, so clients fail fast).',
    group: 'dataplane',
    felixField: 'iptablesFilterDenyAction',
  }),
  logPrefix: setting({
    env: ['FELIX_LOGPREFIX'],
    type: stringType,
    default: 'calico-packet',
    description: 'Kernel log prefix of `Log` rules.',
    group: 'dataplane',
    felixField: 'logPrefix',
  }),
  natOutgoingAddress: setting({
    env: ['FELIX_NATOUTGOINGADDRESS'],
    type: hostAddressType,
    default: undefined,
    description: 'SNAT natOutgoing traffic to this address instead of MASQUERADE (the outgoing interface\'s address).',
    group: 'dataplane',
    felixField: 'natOutgoingAddress',
  }),
  natPortRange: setting({
    env: ['FELIX_NATPORTRANGE'],
    type: portRangeType,
    default: null,
    description: 'Source port range natOutgoing may use for TCP and UDP.',
    group: 'dataplane',
    felixField: 'natPortRange',
  }),
  allowVxlanPacketsFromWorkloads: setting({
    env: ['FELIX_ALLOWVXLANPACKETSFROMWORKLOADS'],
    type: boolType,
    default: false,
    description: 'Let workloads send VXLAN-encapsulated packets (dropped by default, so a pod cannot forge tunnel traffic).',
    group: 'dataplane',
    felixField: 'allowVXLANPacketsFromWorkloads',
  }),
  allowIpipPacketsFromWorkloads: setting({
    env: ['FELIX_ALLOWIPIPPACKETSFROMWORKLOADS'],
    type: boolType,
    default: false,
    description: 'Let workloads send IPIP-encapsulated packets (dropped by default).',
    group: 'dataplane',
    felixField: 'allowIPIPPacketsFromWorkloads',
  }),
  disableConntrackInvalidCheck: setting({
    env: ['FELIX_DISABLECONNTRACKINVALIDCHECK'],
    type: boolType,
    default: false,
    description: 'Do not drop packets conntrack marks INVALID.',
    group: 'dataplane',
    felixField: 'disableConntrackInvalidCheck',
  }),
  ipv6Support: setting({
    env: ['FELIX_IPV6SUPPORT'],
    type: boolType,
    default: true,
    description: 'Program ip6tables and IPv6 sets too (IPv6 endpoints and pools); `false` leaves IPv6 alone.',
    group: 'dataplane',
    felixField: 'ipv6Support',
  }),
  policyDataplane: setting({
    env: ['TORTIE_POLICY_DATAPLANE'],
    type: boolType,
    default: true,
    description: 'Program iptables and ipsets (policy, natOutgoing, host endpoints). `false` runs routing only, for a node where something else enforces policy.',
    group: 'tortie',
  }),

  // --- tortie --------------------------------------------------------------------------------
  controlSocket: setting({
    env: ['TORTIE_CONTROL_SOCKET'],
    type: socketPathType,
    default: DEFAULT_CONTROL_SOCKET_PATH,
    description: 'UNIX socket (mode 0600) on which `tortie status` and other local commands reach the agent.',
    group: 'tortie',
  }),
  bgpGracefulRestart: setting({
    env: ['TORTIE_BGP_GRACEFUL_RESTART'],
    type: boolType,
    // Calico's BIRD template always enables graceful restart; off only to compare (tests) or to
    // work around a peer with a broken implementation.
    default: true,
    description:
      'Offer BGP graceful restart (RFC 4724) to every peer, so an agent restart keeps the routes on the peers and in the kernel. `false` makes every restart withdraw and re-learn all routes.',
    group: 'tortie',
  }),
} as const;

export type SettingKey = keyof typeof SETTINGS;

type ValueOf<S> = S extends Setting<infer T> ? T : never;
type HasDefault<S> = S extends { default: undefined } ? false : true;

/** The effective configuration: every setting, typed; settings without a default may be undefined. */
export type AgentConfig = {
  -readonly [K in SettingKey]: HasDefault<(typeof SETTINGS)[K]> extends true
    ? ValueOf<(typeof SETTINGS)[K]>
    : ValueOf<(typeof SETTINGS)[K]> | undefined;
};

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** `healthPort` → `health-port`: the `tortie agent` flag of a setting. */
export function flagName(key: SettingKey): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
