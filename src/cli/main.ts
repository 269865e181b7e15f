/**
 * The `tortie` command line. Each subcommand lives in its own module and registers itself here.
 * A UserError prints its message and exits with its code; anything else is a bug and keeps its stack.
 */
import { Command, CommanderError } from 'commander';
import { isUserError } from '../util/errors.js';

const program = new Command();
program
  .name('tortie')
  .description('Per-node Kubernetes networking agent, compatible with Calico')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

const modules = ['./agent.js', './lab.js', './status.js', './bgp.js', './datastore.js'];
for (const m of modules) {
  try {
    const mod = (await import(m)) as { register?: (p: Command) => void };
    mod.register?.(program);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
  }
}

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
