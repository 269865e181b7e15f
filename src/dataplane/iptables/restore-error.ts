/**
 * Turning an iptables-restore failure into something an operator can act on: which line of the
 * transaction it rejected, and that line's text. iptables-restore names the line in one of three
 * ways, by backend and by where the error was found:
 *
 *   iptables-restore: line 5 failed                          (legacy; at COMMIT for kernel errors)
 *   Error occurred at line: 4                                 (both; a rule it could not parse)
 *   line 4: RULE_APPEND failed (Invalid argument): rule in chain cali-c     (nft; kernel errors)
 *
 * When the named line is not the culprit — legacy reports kernel refusals at the COMMIT line,
 * iptables-nft reports a jump to a missing chain at the line after it — but the message names a
 * module, target or chain (`nonexistentmatch', 'cali-x'), the first line mentioning that name is
 * given as the likely offender.
 */

export interface RestoreFailure {
  /** 1-based line number iptables-restore named, if it named one. */
  readonly lineNumber?: number;
  /** The text of the offending line (or best guess), if known. */
  readonly line?: string;
  /** iptables-restore's own message, trimmed. */
  readonly message: string;
}

const LINE_PATTERNS = [/line (\d+) failed/, /Error occurred at line: (\d+)/, /^line (\d+): /m];
/** `nonexistentmatch' or 'cali-x': the name iptables could not load or find. */
const NAMED = /[`'"]([^`'"\s]+)'/;

export function describeRestoreFailure(stderr: string, lines: readonly string[]): RestoreFailure {
  const message = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('Try `'))
    .join('; ');
  let lineNumber: number | undefined;
  for (const p of LINE_PATTERNS) {
    const m = p.exec(stderr);
    if (m) {
      lineNumber = Number(m[1]);
      break;
    }
  }
  let line = lineNumber !== undefined ? lines[lineNumber - 1] : undefined;
  const named = NAMED.exec(stderr)?.[1];
  if (named !== undefined && (line === undefined || !line.includes(named))) {
    const guess = lines.find((l) => l.startsWith('-') && l.includes(named));
    if (guess !== undefined) line = guess;
  }
  return { lineNumber, line, message };
}

export function formatRestoreFailure(command: string, f: RestoreFailure): string {
  const where = f.lineNumber !== undefined ? ` at line ${f.lineNumber}` : '';
  const what = f.line !== undefined ? `: ${f.line}` : '';
  return `${command} rejected the transaction${where}${what} (${f.message})`;
}
