import { performance } from 'node:perf_hooks';
import { run } from '../src/lab/exec.js';
import { netnsAdd, netnsDelete } from '../src/lab/netns.js';
import { Dataplane } from '../src/dataplane/dataplane.js';
import { iproute2Kernel } from '../src/dataplane/kernel.js';
import { ProcessRunner, type CommandRunner } from '../src/dataplane/exec.js';
const ns = `tt-dp-${process.pid}-prof`;
const n = 100000;
await netnsAdd(ns);
let T0 = 0;
const ts = (): string => (performance.now() - T0).toFixed(0).padStart(5);
try {
  await run(['ip', '-n', ns, 'link', 'add', 'calibench0', 'type', 'veth', 'peer', 'name', 'p0']);
  await run(['ip', '-n', ns, 'link', 'set', 'calibench0', 'up']);
  await run(['ip', '-n', ns, 'link', 'set', 'p0', 'up']);
  const real = new ProcessRunner();
  const runner: CommandRunner = {
    run: async (argv, o) => { console.log(`${ts()} start ${argv.slice(3, 8).join(' ')}`); const r = await real.run(argv, o); console.log(`${ts()} end   ${argv.slice(3, 8).join(' ')}`); return r; },
    start: (argv, o) => { console.log(`${ts()} start* ${argv.slice(3, 8).join(' ')}`); const c = real.start(argv, o); return { write: c.write, kill: c.kill, end: async () => { console.log(`${ts()} stdin done`); const r = await c.end(); console.log(`${ts()} end*  ${argv.slice(3, 8).join(' ')}`); return r; } }; },
  };
  const dp = new Dataplane({ kernel: iproute2Kernel({ netns: ns, runner }) });
  dp.setDatastoreInSync(true);
  T0 = performance.now();
  for (let i = 0; i < n; i++) dp.setRoute({ class: 'workload', dst: `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, dev: 'calibench0' });
  console.log(`${ts()} queued`);
  T0 = performance.now();
  await dp.applyNow();
  console.log(`${ts()} apply done`);
  dp.requestResync();
  T0 = performance.now();
  await dp.applyNow();
  console.log(`${ts()} refresh done`);
} finally { await netnsDelete(ns); }
