/**
 * Text rendering for `tortie status`, matching `calicoctl node status` byte for byte: the same
 * headings, the same tablewriter layout (upper-case centred headers, left-aligned cells, one
 * space of padding), BIRD's protocol state (up/start/down), BIRD's "since" format (time of day
 * within 20 hours, else the date) and BIRD's info column ("Established", "Active Socket: ...").
 * Pure functions over the speaker's status objects, so tests can pin the exact output.
 */
import { isIP } from 'node:net';
import type { PeerStatus } from './speaker/peer.js';
import type { PrefixView } from './rib/index.js';

/** BIRD 1.6's default protocol time format switches from "%T" to "%F" after 20 hours. */
const SINCE_TIME_OF_DAY_MS = 20 * 3600 * 1000;

/** Renders rows like olekukonko/tablewriter with its defaults (what calicoctl uses). */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const heads = header.map((h) => h.toUpperCase());
  const widths = heads.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+\n';
  const center = (s: string, w: number): string => {
    const gap = w - s.length;
    const left = Math.floor(gap / 2);
    return ' '.repeat(left) + s + ' '.repeat(gap - left);
  };
  let out = line;
  out += '|' + heads.map((h, i) => ` ${center(h, widths[i]!)} `).join('|') + '|\n';
  out += line;
  for (const r of rows) out += '|' + widths.map((w, i) => ` ${(r[i] ?? '').padEnd(w)} `).join('|') + '|\n';
  out += line;
  return out;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

export function formatSince(sinceIso: string, now: Date): string {
  const t = new Date(sinceIso);
  if (now.getTime() - t.getTime() < SINCE_TIME_OF_DAY_MS) return `${pad2(t.getHours())}:${pad2(t.getMinutes())}:${pad2(t.getSeconds())}`;
  return `${t.getFullYear()}-${pad2(t.getMonth() + 1)}-${pad2(t.getDate())}`;
}

function peerSection(version: 4 | 6, peers: readonly PeerStatus[], now: Date): string {
  const mine = peers.filter((p) => isIP(p.address) === version);
  const out = `\nIPv${version} BGP status\n`;
  if (mine.length === 0) return out + `No IPv${version} peers found.\n`;
  const rows = mine.map((p) => [p.address, p.type, p.protoState, formatSince(p.since, now), p.info]);
  return out + renderTable(['Peer address', 'Peer type', 'State', 'Since', 'Info'], rows);
}

/** The full `calicoctl node status` text for a running speaker. */
export function formatNodeStatus(peers: readonly PeerStatus[], now = new Date()): string {
  return 'Calico process is running.\n' + peerSection(4, peers, now) + peerSection(6, peers, now) + '\n';
}

/** Text when the agent runs without BGP (calicoctl's wording for "no BIRD/GoBGP"). */
export function formatNoBgp(): string {
  return 'Calico process is running.\n\nNone of the BGP backend processes (BIRD or GoBGP) are running.\n\n';
}

function asPathText(a: PrefixView['paths'][number]['received']): string {
  return (a.asPath ?? []).map((s) => (s.type === 1 ? `{${s.asns.join(',')}}` : s.asns.join(' '))).join(' ');
}

/** `tortie status routes`: every path per prefix, the best marked, and why each one lost. */
export function formatRoutes(views: readonly PrefixView[]): string {
  if (views.length === 0) return 'No routes.\n';
  const rows: string[][] = [];
  for (const v of views) {
    for (const p of v.paths) {
      const a = p.attrs ?? p.received;
      const status = p.best
        ? `best (${v.reason ?? 'only-path'})`
        : p.rejected
          ? `rejected: ${p.rejected}`
          : p.eliminatedBy
            ? `lost on ${p.eliminatedBy}`
            : 'candidate';
      rows.push([
        (p.best ? '* ' : '  ') + v.prefix,
        a.nextHop ?? '-',
        p.peerId ?? 'local',
        asPathText(a) || '-',
        a.localPref !== undefined ? String(a.localPref) : '-',
        status + (p.stale ? ', stale' : ''),
      ]);
    }
  }
  return renderTable(['Prefix', 'Next hop', 'From', 'AS path', 'Local pref', 'Status'], rows);
}
