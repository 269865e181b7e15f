/**
 * Runs the test API server on its own, for poking at it by hand:
 *
 *   node --import tsx test/k8s-apiserver/main.ts [--port N] [--bookmark-ms N]
 *   kubectl --server http://127.0.0.1:N get pods -A
 *
 * Prints the URL, serves until SIGINT/SIGTERM. State is in memory only.
 */
import { TestApiServer } from './server.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const bookmarkMs = Number(flag('--bookmark-ms') ?? 60_000);
const server = await TestApiServer.start({ bookmarkIntervalMs: bookmarkMs, port: flag('--port') ? Number(flag('--port')) : undefined });
process.stdout.write(`${server.url}\n`);
const stop = () => void server.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
