/**
 * The "tortie announces" side of bench/bgp-ingest.ts: the real BgpSpeaker (same code as
 * `tortie bgp-speaker`), originating N synthetic /30 prefixes towards one peer. Generating a
 * million-entry speaker.yaml would measure the YAML parser instead, so the prefixes are made
 * here and handed to the library API. Prints one JSON line when the table is loaded.
 *
 *   node --import tsx bench/lib/tortie-announcer.ts --router-id A --asn N --peer B --prefixes N
 */
import { parseArgs } from 'node:util';
import { BgpSpeaker } from '../../src/bgp/speaker.js';
import { createLogger } from '../../src/util/log.js';
import { slash30 } from './bench-net.js';

const { values } = parseArgs({
  options: {
    'router-id': { type: 'string' },
    asn: { type: 'string' },
    peer: { type: 'string' },
    'peer-asn': { type: 'string' },
    prefixes: { type: 'string' },
  },
});
const routerId = values['router-id']!;
const asn = Number(values.asn);
const n = Number(values.prefixes);

const speaker = new BgpSpeaker({
  routerId,
  asNumber: asn,
  listen: { address: routerId, port: 179 },
  logger: createLogger({ level: 'warning', name: 'tortie-announcer' }),
});
speaker.addPeer({ address: values.peer!, asNumber: Number(values['peer-asn'] ?? asn) });
const t0 = performance.now();
for (let i = 0; i < n; i++) speaker.announce(slash30(i));
const loadMs = Math.round(performance.now() - t0);
await speaker.start();
process.stdout.write(`${JSON.stringify({ ready: true, loadMs })}\n`);
const stop = (): void => {
  void speaker.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
