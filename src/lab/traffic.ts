/**
 * Real traffic between lab namespaces, for the tests that prove what the dataplane lets through:
 * a TCP (and optionally UDP) listener that answers every connection with the source address it
 * sees (so a test can tell a masqueraded connection from a direct one), a TCP connect or UDP
 * exchange from inside another namespace, and one ICMP echo.
 *
 * Both ends are Node itself (`ip netns exec <ns> node -e <script>`): it is on every machine that
 * runs tortie, unlike socat or ncat. A check spawns one short-lived client (tens of milliseconds
 * of start-up); its own timer, started once Node is up, is what decides "timed out", so a slow
 * start under load never turns an allowed connection into a timeout.
 *
 * How a blocked connection shows: a DROP as `timeout`, a REJECT as `refused` (tcp-reset, or
 * ICMP port-unreachable for UDP) or `unreachable` (ICMP host/net-unreachable).
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, StopWaiting, tailFile, waitFor } from './exec.js';
import { inNetns, spawnLoggedIn } from './netns.js';

/** Every answer of the listener: `tortie-peer <source address> <source port>`. */
export const PEER_LINE_PREFIX = 'tortie-peer';
/** What the listener prints once it accepts connections (and datagrams, with udp). */
export const LISTENING_WORD = 'listening';
/** Default wait for a connect or a UDP answer: a lab's round trip is well under a millisecond. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
/**
 * Extra time a client process gets, beyond its own connect timeout, to start and report: Node's
 * start-up inside `ip netns exec` was seen to take seconds on a loaded 2-core machine.
 */
const CLIENT_START_ALLOWANCE_MS = 15_000;
/** How long a listener gets to start listening (same start-up cost as a client). */
const SERVER_START_TIMEOUT_MS = 20_000;
const SERVER_READY_POLL_MS = 50;

/**
 * The listener. argv: port, host, udp (1|0). It answers and closes each TCP connection, answers
 * each datagram, exits on SIGTERM and when its stdin ends (our process is gone).
 */
const SERVER_SCRIPT = `
const net = require('node:net');
const dgram = require('node:dgram');
const [port, host, udp] = process.argv.slice(1);
const line = (a, p) => '${PEER_LINE_PREFIX} ' + a + ' ' + p + '\\n';
const fail = (what) => (e) => { console.error(what + ' ' + host + ':' + port + ': ' + e.message); process.exit(1); };
let pending = udp === '1' ? 2 : 1;
const ready = () => { if (--pending === 0) console.log('${LISTENING_WORD} ' + port); };
const srv = net.createServer((s) => { s.on('error', () => {}); s.end(line(s.remoteAddress, s.remotePort)); });
srv.on('error', fail('tcp listen'));
srv.listen({ port: Number(port), host }, ready);
if (udp === '1') {
  const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  u.on('error', fail('udp bind'));
  u.on('message', (_m, r) => u.send(line(r.address, r.port), r.port, r.address));
  u.bind(Number(port), host, ready);
}
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
`;

/**
 * The client. argv: tcp|udp, address, port, timeout ms, expect reply (1|0). Prints one JSON
 * line (ClientReport) and exits.
 */
const CLIENT_SCRIPT = `
const net = require('node:net');
const dgram = require('node:dgram');
const [proto, ip, port, ms, expect] = process.argv.slice(1);
let connected = false;
let reply = '';
const done = (r) => { process.stdout.write(JSON.stringify({ connected, reply, ...r }) + '\\n'); process.exit(0); };
setTimeout(() => done({ code: connected ? 'NOREPLY' : 'TIMEOUT' }), Number(ms));
if (proto === 'tcp') {
  const s = net.connect({ host: ip, port: Number(port) });
  s.setEncoding('utf8');
  s.on('connect', () => { connected = true; if (expect !== '1') done({}); });
  s.on('data', (d) => { reply += d; if (reply.includes('\\n')) done({}); });
  s.on('end', () => done(reply ? {} : { code: 'NOREPLY' }));
  s.on('error', (e) => done({ code: e.code, message: e.message }));
} else {
  const u = dgram.createSocket(ip.includes(':') ? 'udp6' : 'udp4');
  u.on('error', (e) => done({ code: e.code, message: e.message }));
  u.on('message', (m) => { connected = true; reply = m.toString('utf8'); done({}); });
  u.connect(Number(port), ip, () => u.send('ping'));
}
`;

/** Why a connection did not go through (see the module comment for what each means). */
export type ConnectFailure = 'timeout' | 'refused' | 'unreachable' | 'reset' | 'no-reply' | 'error';

export interface ConnectResult {
  /** Connected and, unless the caller said not to expect one, answered. */
  ok: boolean;
  /** The source address the listener saw (after any SNAT on the way). */
  peerSeen?: string;
  failure?: ConnectFailure;
  /** The reason in words, when not ok. */
  error?: string;
}

/** What the client script prints. */
export interface ClientReport {
  connected: boolean;
  reply: string;
  code?: string;
  message?: string;
}

/** errno codes (and the client's own) to failures: Linux's for a refused or unreachable peer. */
const FAILURES: Record<string, ConnectFailure> = {
  TIMEOUT: 'timeout',
  ETIMEDOUT: 'timeout',
  NOREPLY: 'no-reply',
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ECONNRESET: 'reset',
};

/** Source address and port out of a listener's answer; IPv4-mapped IPv6 is given as IPv4. */
export function parsePeerLine(text: string): { address: string; port: number } | undefined {
  const first = text.split('\n', 1)[0]!.trim();
  const m = new RegExp(`^${PEER_LINE_PREFIX} (\\S+) (\\d+)$`).exec(first);
  if (!m) return undefined;
  return { address: m[1]!.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1'), port: Number(m[2]) };
}

/** The client's last stdout line, as a ConnectResult. */
export function interpretClientOutput(stdout: string, timeoutMs: number, expectReply = true): ConnectResult {
  const last = stdout.trim().split('\n').pop() ?? '';
  let r: ClientReport;
  try {
    r = JSON.parse(last) as ClientReport;
  } catch {
    return { ok: false, failure: 'error', error: `the traffic client printed no result: ${JSON.stringify(stdout.slice(-200))}` };
  }
  if (!r.code) {
    const peer = parsePeerLine(r.reply);
    if (!expectReply) return { ok: r.connected, ...(peer ? { peerSeen: peer.address } : {}) };
    if (peer) return { ok: true, peerSeen: peer.address };
    return { ok: false, failure: 'error', error: `unexpected answer ${JSON.stringify(r.reply.slice(0, 200))}` };
  }
  const failure = FAILURES[r.code] ?? 'error';
  const words: Record<ConnectFailure, string> = {
    timeout: `no answer within ${timeoutMs} ms`,
    'no-reply': `connected, but no answer within ${timeoutMs} ms`,
    refused: 'refused',
    unreachable: 'unreachable',
    reset: 'reset by peer',
    error: 'failed',
  };
  const detail = r.message && failure !== 'timeout' ? ` (${r.code}: ${r.message})` : '';
  return { ok: false, failure, error: `${words[failure]}${detail}` };
}

async function runClient(fromNetns: string, proto: 'tcp' | 'udp', ip: string, port: number, timeoutMs: number, expectReply: boolean): Promise<ConnectResult> {
  const r = await run(inNetns(fromNetns, [process.execPath, '-e', CLIENT_SCRIPT, proto, ip, String(port), String(timeoutMs), expectReply ? '1' : '0']), {
    timeoutMs: timeoutMs + CLIENT_START_ALLOWANCE_MS,
  });
  return interpretClientOutput(r.stdout, timeoutMs, expectReply);
}

/**
 * A TCP connect from inside `fromNetns`, returning what the listener said. With
 * `expectReply: false` a completed handshake is enough (for a listener that is not ours, such as
 * the agent's BGP port). Throws only when the client itself cannot run.
 */
export function tcpConnect(
  fromNetns: string,
  ip: string,
  port: number,
  timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
  o: { expectReply?: boolean } = {},
): Promise<ConnectResult> {
  return runClient(fromNetns, 'tcp', ip, port, timeoutMs, o.expectReply ?? true);
}

/** One datagram to a listener started with `udp: true`, and its answer. */
export function udpExchange(fromNetns: string, ip: string, port: number, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<ConnectResult> {
  return runClient(fromNetns, 'udp', ip, port, timeoutMs, true);
}

/** `ping -c <count> -W 1` from inside `fromNetns`: ok when an echo reply comes back. */
export async function icmpPing(fromNetns: string, ip: string, o: { count?: number } = {}): Promise<{ ok: boolean; error?: string }> {
  const count = o.count ?? 1;
  const r = await run(inNetns(fromNetns, ['ping', '-n', '-c', String(count), '-W', '1', ip]), { allowFailure: true, timeoutMs: 5_000 + count * 1_000 });
  if (r.code === 0) return { ok: true };
  return { ok: false, error: r.code === 1 ? 'no echo reply' : (r.stderr.trim() || `ping exit code ${r.code}`) };
}

export interface TcpServer {
  netns: string;
  port: number;
  pid: number;
  /** Ends the listener (SIGTERM, then SIGKILL after a grace period); harmless when it is gone. */
  stop(): Promise<void>;
}

export interface TcpServerOptions {
  /** Address to listen on. Default 0.0.0.0 (so peers are reported as plain IPv4). */
  host?: string;
  /** Also answer UDP datagrams on the same port. */
  udp?: boolean;
  /** Where the listener's output goes. Default: a file in the temp directory, removed on stop. */
  logFile?: string;
}

/**
 * Starts a listener in `netns` and resolves once it listens. The caller stops it (in a finally);
 * should the caller die first, the listener ends with it (its stdin closes), and a lab's
 * teardown ends anything still running in the lab's namespaces.
 */
export async function startTcpServer(netns: string, port: number, o: TcpServerOptions = {}): Promise<TcpServer> {
  const host = o.host ?? '0.0.0.0';
  const log = o.logFile ?? join(tmpdir(), `tortie-listener-${process.pid}-${netns}-${port}.log`);
  const ownLog = o.logFile === undefined;
  rmSync(log, { force: true });
  const child = spawnLoggedIn(netns, `listener ${netns}:${port}`, [process.execPath, '-e', SERVER_SCRIPT, String(port), host, o.udp ? '1' : '0'], log, {
    stdin: 'pipe',
  });
  let exited = false;
  void child.exited.then(() => (exited = true));
  const stop = async () => {
    await child.stop();
    if (ownLog) rmSync(log, { force: true });
  };
  try {
    await waitFor(
      () => {
        if (exited) throw new StopWaiting(`the listener exited: ${tailFile(log, 5) || 'no output'}`);
        return readFileSync(log, 'utf8').includes(`${LISTENING_WORD} ${port}`);
      },
      { timeoutMs: SERVER_START_TIMEOUT_MS, intervalMs: SERVER_READY_POLL_MS, what: `a listener on ${host}:${port} in ${netns}` },
    );
  } catch (e) {
    await stop();
    throw new Error(`cannot start a listener on ${host}:${port} in ${netns}: ${(e as Error).message}`);
  }
  return { netns, port, pid: child.pid, stop };
}
