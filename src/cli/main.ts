/**
 * The `tortie` command line. Each subcommand lives in its own module and registers itself here.
 * A UserError prints its message and exits with its code; anything else is a bug and keeps its stack.
 */
import { Command, CommanderError } from 'commander';
import { isUserError } from '../util/errors.js';
import { register as registerAgent } from './agent.js';
import { register as registerLab } from './lab.js';
import { register as registerStatus } from './status.js';
import { register as registerBgp } from './bgp.js';
import { register as registerDatastore } from './datastore.js';

const program = new Command();
program
  .name('tortie')
  .description('Per-node Kubernetes networking agent, compatible with Calico')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

for (const register of [registerAgent, registerLab, registerStatus, registerBgp, registerDatastore]) register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (isUserError(e)) {
    process.stderr.write(`tortie: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else {
    process.stderr.write(`tortie: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}
