/**
 * Agents inside node namespaces. First the lab's process handling with a minimal stand-in
 * server (env passed through, runs in the node's namespace only, stop/kill/restart, pids
 * recorded), then the real `tortie agent`: /liveness must answer inside the node namespace.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { agentRestart, agentStart, agentStartAll, agentStop, labDown, labUp, loadLab, type LabState } from '../../src/lab/index.js';
import { isRunning, waitFor } from '../../src/lab/exec.js';
import { runIn } from '../../src/lab/netns.js';
import { assertNoNamespaces, assertNoProcesses, freshLabDir, labName, requireRoot } from './helpers.js';

const name = labName('agent');
let lab: LabState;
const seen: number[] = [];

before(async () => {
  requireRoot();
  freshLabDir();
  lab = await labUp({ name, nodes: 2 });
});

after(async () => {
  await labDown(name);
  assertNoNamespaces(`tl-${name}-`);
  assertNoProcesses(seen);
});

/** Serves the environment the lab gave it on FELIX_HEALTHHOST:FELIX_HEALTHPORT, like a health endpoint. */
const ENV_SERVER = `
const http = require('node:http');
const keys = ['NODENAME','IP','DATASTORE_TYPE','ETCD_ENDPOINTS','TORTIE_CONTROL_SOCKET','FELIX_PROMETHEUSMETRICSENABLED'];
http.createServer((q, s) => s.end(JSON.stringify(Object.fromEntries(keys.map((k) => [k, process.env[k]])))))
  .listen(Number(process.env.FELIX_HEALTHPORT), process.env.FELIX_HEALTHHOST);
process.on('SIGTERM', () => process.exit(0));
`;

async function curl(netns: string, path: string): Promise<{ code: number; body: string }> {
  const r = await runIn(netns, ['curl', '-s', '-m', '2', '-w', '\\n%{http_code}', `http://127.0.0.1:9099${path}`], { allowFailure: true });
  const lines = r.stdout.trimEnd().split('\n');
  return { code: Number(lines.pop()), body: lines.join('\n') };
}

test('agent process handling: env, namespace, stop, kill, restart', async () => {
  const argv = [process.execPath, '-e', ENV_SERVER];
  const a = await agentStart(name, 'node-1', { argv });
  seen.push(a.pid);
  const env = JSON.parse((await waitFor(async () => {
    const r = await curl(lab.nodes[0]!.netns, '/liveness');
    return r.code === 200 ? r.body : undefined;
  }, { timeoutMs: 10_000, what: 'the stand-in agent to listen' })));
  assert.equal(env.NODENAME, 'node-1');
  assert.equal(env.IP, '198.18.0.11');
  assert.equal(env.DATASTORE_TYPE, 'etcdv3');
  assert.equal(env.ETCD_ENDPOINTS, 'http://198.18.0.2:2379');
  assert.equal(env.TORTIE_CONTROL_SOCKET, `${lab.workDir}/node-1/control.sock`);
  // It runs in node-1's namespace only: node-2's loopback has nothing on 9099.
  assert.equal((await curl(lab.nodes[1]!.netns, '/liveness')).code, 0);
  assert.equal(loadLab(name).nodes[0]!.agent!.pid, a.pid);
  await assert.rejects(agentStart(name, 'node-1', { argv }), /already running/);

  const b = await agentRestart(name, 'node-1', { argv, kill: true });
  seen.push(b.pid);
  assert.notEqual(b.pid, a.pid);
  assert.equal(isRunning(a.pid), false);
  assert.equal(await agentStop(name, 'node-1'), true);
  assert.equal(isRunning(b.pid), false);
  assert.equal(await agentStop(name, 'node-1'), false);
  assert.equal(loadLab(name).nodes[0]!.agent, undefined);
});

test('agentStartAll starts every node at once and records each pid', async () => {
  const started = await agentStartAll(name, { argv: [process.execPath, '-e', ENV_SERVER] });
  seen.push(...started.map((a) => a.pid));
  assert.equal(started.length, 2);
  assert.deepEqual(loadLab(name).nodes.map((n) => n.agent?.pid), started.map((a) => a.pid));
  for (const n of lab.nodes) await agentStop(name, n.name);
  assert.ok(started.every((a) => !isRunning(a.pid)));
});

test('a command that exits at once is reported with its log', async () => {
  await assert.rejects(agentStart(name, 'node-2', { argv: ['sh', '-c', 'echo bad config >&2; exit 3'] }), /exited [\d.]+ s after start[\s\S]*bad config/);
});

test('start waits until the agent serves: one that exits later (or never answers) is not reported started', async () => {
  // Exits after 2 s, well past any fixed settle time, without ever listening.
  await assert.rejects(agentStart(name, 'node-2', { argv: ['sh', '-c', 'sleep 2; echo late failure >&2; exit 3'] }), /exited [\d.]+ s after start[\s\S]*late failure/);
  assert.equal(loadLab(name).nodes[1]!.agent, undefined);
});

test('tortie agent with a bad config (FELIX_HEALTHPORT=abc): start fails with the config error from its log', async () => {
  await assert.rejects(agentStart(name, 'node-2', { env: { FELIX_HEALTHPORT: 'abc' } }), (e: Error) => {
    assert.match(e.message, /the agent on node-2 exited [\d.]+ s after start/);
    assert.match(e.message, /FELIX_HEALTHPORT/);
    return true;
  });
  assert.equal(loadLab(name).nodes[1]!.agent, undefined, 'a failed start records no agent');
});

test('tortie agent: /liveness answers inside the node namespace; stop ends it', async () => {
  const a = await agentStart(name, 'node-2');
  seen.push(a.pid);
  const live = await waitFor(async () => (await curl(lab.nodes[1]!.netns, '/liveness')).code === 200, {
    timeoutMs: 30_000,
    intervalMs: 250,
    what: `tortie agent /liveness on node-2 (log ${a.logFile})`,
  });
  assert.ok(live);
  assert.equal(await agentStop(name, 'node-2'), true);
  assert.equal(isRunning(a.pid), false);
});
