/**
 * Runs the agent as a process: configuration, logger, signals, and what happens to errors that
 * nothing else caught. Kept apart from Agent so tests can drive an Agent without touching
 * process-wide handlers.
 *
 * Decisions about failure, and why:
 *  - SIGTERM/SIGINT: graceful stop (components in reverse, servers closed), exit 0. The dataplane
 *    is left as programmed, so pods keep their traffic while the agent restarts.
 *  - A second signal, or a stop that overruns SHUTDOWN_TIMEOUT_MS: exit at once. The kernel state
 *    is not ours to clean up anyway, so nothing is lost by leaving fast.
 *  - Unhandled promise rejection: logged at error with its stack, counted in
 *    tortie_unhandled_errors_total, and the agent keeps running. Node's default would kill the
 *    process; here a lost rejection in one component must not take down BGP sessions and health
 *    of the whole node. Each occurrence is a bug to fix, which the metric makes visible.
 *  - Uncaught exception (a synchronous throw out of an event handler): logged at fatal, exit 1.
 *    After one, Node's own state may be inconsistent; restarting is the only safe answer, and it
 *    does not disrupt traffic for the same reason as above.
 */
import { loadConfig } from '../config/load.js';
import type { SettingKey } from '../config/schema.js';
import { createLogger, type Logger } from '../util/log.js';
import { Agent } from './agent.js';
import { buildComponents } from './components.js';
import { redactConfig } from '../config/load.js';

/**
 * A stop must finish well inside Kubernetes' default terminationGracePeriodSeconds (30 s) and the
 * lab's stop grace (15 s), so the agent exits on its own terms rather than by SIGKILL.
 */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;
type HandledSignal = keyof typeof SIGNAL_NUMBERS;

export interface RunAgentOptions {
  flags?: Partial<Record<SettingKey, string>>;
  env?: NodeJS.ProcessEnv;
}

/** Runs until a signal stops the agent; resolves with the exit code. Throws ConfigError on bad config. */
export async function runAgent(opts: RunAgentOptions = {}): Promise<number> {
  const loaded = loadConfig({ flags: opts.flags ?? {}, env: opts.env ?? process.env });
  const logger = createLogger({ level: loaded.config.logSeverityScreen });
  for (const w of loaded.warnings) logger.warn(w);
  logger.info({ config: Object.fromEntries(Object.entries(redactConfig(loaded)).map(([k, v]) => [k, v.value])) }, 'configuration loaded');

  const agent = new Agent({ config: loaded, logger, components: buildComponents(loaded.config) });

  const uninstall = installProcessHandlers(agent, logger);
  try {
    await agent.start();
    const reason = await agent.shutdownRequested;
    await agent.stop(reason);
    return 0;
  } finally {
    uninstall();
  }
}

/**
 * Installs the signal and last-resort error handlers described in the module comment; returns a
 * function that removes them. Exported so the policy is tested on a real process (run.test.ts).
 */
export function installProcessHandlers(agent: Agent, logger: Logger): () => void {
  const onRejection = (reason: unknown): void => agent.recordUnhandled('rejection', reason);
  const onException = (err: unknown): void => {
    logger.fatal({ err }, 'uncaught exception: exiting so the agent restarts clean (the dataplane is left as programmed)');
    process.exit(1);
  };
  let signalled = 0;
  const onSignal = (sig: HandledSignal): void => {
    signalled++;
    if (signalled > 1) {
      logger.warn({ signal: sig }, 'second signal: exiting now without waiting for components');
      process.exit(128 + SIGNAL_NUMBERS[sig]);
    }
    logger.info({ signal: sig }, 'signal received; shutting down (send it again to exit at once)');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown took too long; exiting now');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    agent.requestShutdown(`signal ${sig}`);
  };
  const onTerm = (): void => onSignal('SIGTERM');
  const onInt = (): void => onSignal('SIGINT');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  return () => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
