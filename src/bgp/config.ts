/**
 * speaker.yaml: the configuration of the standalone `tortie bgp-speaker`, validated with zod so a
 * mistake is reported with its path ("peers[1].asNumber: ...") instead of surfacing as a
 * misbehaving session. The agent builds the same PeerConfig values from Calico resources.
 */
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { UserError, errorMessage } from '../util/errors.js';
import { BGP_PORT } from './wire/types.js';
import { DEFAULT_HOLD_TIME_S } from './fsm/fsm.js';
import { MAX_RESTART_TIME } from './fsm/open.js';

/** Calico's default graceful restart time (BIRD `graceful restart time 120`). */
export const DEFAULT_RESTART_TIME_S = 120;

const ipv4 = z.string().refine((s) => isIP(s) === 4, 'must be an IPv4 address (dotted quad)');
const ipAddr = z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address');
const asn = z.number().int().min(1).max(4294967295);
const port = z.number().int().min(1).max(65535);
const holdTime = z
  .number()
  .int()
  .min(0)
  .max(65535)
  .refine((n) => n === 0 || n >= 3, 'must be 0 or at least 3 seconds (RFC 4271 §4.2)');
const prefix = z.string().refine(isCidr, 'must be a CIDR prefix like 10.65.0.0/26 or fd00::/64');
const community = z
  .string()
  .regex(/^\d{1,5}:\d{1,5}$/, 'must be "asn:value" with two 16-bit numbers')
  .refine((s) => s.split(':').every((p) => Number(p) <= 0xffff), 'both halves must be at most 65535');
const largeCommunity = z
  .string()
  .regex(/^\d{1,10}:\d{1,10}:\d{1,10}$/, 'must be "global:local1:local2" with three 32-bit numbers')
  .refine((s) => s.split(':').every((p) => Number(p) <= 0xffffffff), 'each part must be at most 4294967295');

function isCidr(s: string): boolean {
  const m = /^(.+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const v = isIP(m[1]!);
  const len = Number(m[2]);
  return (v === 4 && len <= 32) || (v === 6 && len <= 128);
}

/** The status table's PEER TYPE column (calicoctl's names). */
export const PEER_TYPES = ['global', 'node-to-node mesh', 'node specific'] as const;
export type PeerType = (typeof PEER_TYPES)[number];

export const peerSchema = z.strictObject({
  address: ipAddr,
  port: port.default(BGP_PORT),
  asNumber: asn,
  /** Source address for outgoing connections (BIRD `source address`). */
  localAddress: ipAddr.optional(),
  passive: z.boolean().default(false),
  routeReflectorClient: z.boolean().default(false),
  password: z.string().min(1).max(80).optional(),
  /** GTSM (RFC 5082, Calico BGPPeer ttlSecurity): the peer is at most this many hops away. */
  ttlSecurity: z.number().int().min(1).max(254).optional(),
  holdTime: holdTime.default(DEFAULT_HOLD_TIME_S),
  keepaliveTime: z.number().int().min(1).max(21845).optional(),
  gracefulRestart: z
    .strictObject({ restartTime: z.number().int().min(1).max(MAX_RESTART_TIME).default(DEFAULT_RESTART_TIME_S) })
    .optional(),
  nextHopSelf: z.boolean().default(false),
  keepOriginalNextHop: z.boolean().default(false),
  /**
   * RFC 7911 add-path: 'receive' offers to receive several paths per prefix from this peer (BIRD
   * `add paths tx`/`on`, GoBGP `send-max`). Offering is harmless: a peer that does not send
   * add-path ignores the capability and the session is the same as with 'off'. 'off' leaves the
   * capability out of our OPEN (for a peer that mishandles it). We never send path identifiers.
   */
  addPaths: z.enum(['receive', 'off']).default('receive'),
  /** How `tortie status` labels the peer. */
  type: z.enum(PEER_TYPES).default('global'),
});

export const announceSchema = z.strictObject({
  prefix,
  nextHop: ipAddr.optional(),
  communities: z.array(community).optional(),
  largeCommunities: z.array(largeCommunity).optional(),
});

export const speakerConfigSchema = z
  .strictObject({
    routerId: ipv4,
    asNumber: asn,
    listen: z
      .strictObject({ address: ipAddr.default('0.0.0.0'), port: port.default(BGP_PORT) })
      .default({ address: '0.0.0.0', port: BGP_PORT }),
    clusterId: ipv4.optional(),
    peers: z.array(peerSchema).default([]),
    announce: z.array(announceSchema).default([]),
    metrics: z.strictObject({ address: ipAddr.default('0.0.0.0'), port: port.default(9099) }).optional(),
    controlSocket: z.string().min(1).optional(),
    /**
     * Graceful restart as the restarting speaker: when this file exists at start-up we set the R
     * bit (RFC 4724 §3), so peers keep our routes; stop({ gracefulRestart }) writes it.
     */
    restartStateFile: z.string().min(1).optional(),
    /**
     * RFC 4724 §4.1 selection deferral bound in seconds: after a graceful restart, how long at
     * most our advertisements wait for End-of-RIB from every graceful-restart peer (bounded like
     * a restart time: waiting longer than peers keep our routes is pointless).
     */
    selectionDeferralTime: z.number().int().min(1).max(MAX_RESTART_TIME).optional(),
    logLevel: z.string().optional(),
  })
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.peers.forEach((p, i) => {
      const prev = seen.get(p.address);
      if (prev !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['peers', i, 'address'], message: `duplicate peer ${p.address} (also peers[${prev}])` });
      }
      seen.set(p.address, i);
      if (p.keepaliveTime !== undefined && p.holdTime !== 0 && p.keepaliveTime * 3 > p.holdTime) {
        ctx.addIssue({ code: 'custom', path: ['peers', i, 'keepaliveTime'], message: `must be at most a third of holdTime (${p.holdTime}s)` });
      }
    });
  });

export type PeerConfigInput = z.input<typeof peerSchema>;
export type SpeakerPeerConfig = z.output<typeof peerSchema>;
export type AnnounceConfig = z.output<typeof announceSchema>;
export type SpeakerConfig = z.output<typeof speakerConfigSchema>;

function formatIssues(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const path = i.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
      return `  ${path || '(top level)'}: ${i.message}`;
    })
    .join('\n');
}

/** Validates an already-parsed value; throws UserError listing every problem with its path. */
export function parseSpeakerConfig(value: unknown, source = 'config'): SpeakerConfig {
  const r = speakerConfigSchema.safeParse(value);
  if (!r.success) throw new UserError(`${source} is invalid:\n${formatIssues(r.error)}`, { code: 'E_CONFIG' });
  return r.data;
}

/** Validates one peer given through the library API. */
export function parsePeerConfig(value: PeerConfigInput): SpeakerPeerConfig {
  const r = peerSchema.safeParse(value);
  if (!r.success) throw new UserError(`peer ${value.address} is invalid:\n${formatIssues(r.error)}`, { code: 'E_CONFIG' });
  return r.data;
}

export function loadSpeakerConfig(path: string): SpeakerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${errorMessage(e)}`, { code: 'E_CONFIG' });
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    throw new UserError(`${path} is not valid YAML: ${errorMessage(e)}`, { code: 'E_CONFIG' });
  }
  return parseSpeakerConfig(value ?? {}, path);
}
