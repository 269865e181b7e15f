/**
 * Errors a user can fix (bad flag, bad config, wrong lab name). The CLI prints their message
 * without a stack trace and exits non-zero; anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(message: string, opts: { code?: string; exitCode?: number } = {}) {
    super(message);
    this.name = 'UserError';
    this.code = opts.code ?? 'E_USER';
    this.exitCode = opts.exitCode ?? 2;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/** Message of an unknown thrown value, for logs. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
