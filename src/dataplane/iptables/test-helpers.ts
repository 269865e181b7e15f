/**
 * An in-memory iptables behind the CommandRunner interface, for the table's unit tests (real
 * iptables is exercised by test/dataplane/iptables.test.ts). It enforces what the table's logic
 * relies on: a transaction is all or nothing; rules go into chains that exist; a jump needs its
 * target; `-R`/`-D` by number need the position; `-D` by value needs a matching rule; `-X` needs
 * an empty, unreferenced chain; an unknown match module is refused. Rule text is stored as
 * written (real iptables respells it; the table never depends on the spelling, only on hashes).
 * Every command is recorded so tests can assert "no restore at all".
 */
import type { CommandRunner, ExecResult, StreamingCommand } from '../exec.js';

const BUILTIN_CHAINS: Readonly<Record<string, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
};
const TARGETS = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'LOG', 'NFLOG', 'MARK', 'CONNMARK', 'NOTRACK', 'MASQUERADE', 'SNAT', 'DNAT']);
const KNOWN_MATCHES = new Set(['comment', 'set', 'conntrack', 'mark', 'multiport', 'addrtype', 'tcp', 'udp', 'icmp', 'rpfilter', 'limit']);
const BINARY = /^(ip6?tables)-(legacy|nft)-(save|restore)$/;

interface FakeChain {
  policy?: string;
  rules: string[];
}
type FakeTable = Map<string, FakeChain>;

class RestoreError extends Error {
  constructor(
    readonly lineNo: number,
    message: string,
    readonly parse = false,
  ) {
    super(message);
  }
}

function cloneTable(t: FakeTable): FakeTable {
  const out: FakeTable = new Map();
  for (const [n, c] of t) out.set(n, { policy: c.policy, rules: [...c.rules] });
  return out;
}

/** Spec text with comment quotes dropped, so `--comment "x"` and `--comment x` compare equal. */
const norm = (spec: string): string => spec.replace(/--comment "([^"]*)"/g, '--comment $1').trim();

function targetsOf(spec: string): string[] {
  const w = spec.split(/\s+/);
  const out: string[] = [];
  for (let i = 0; i + 1 < w.length; i++) if (w[i] === '-j' || w[i] === '--jump' || w[i] === '-g' || w[i] === '--goto') out.push(w[i + 1]!);
  return out;
}

export class FakeIptables implements CommandRunner {
  /** Kernel tables by `<backend>|<4|6>|<table>`. */
  readonly tables = new Map<string, FakeTable>();
  readonly calls: { argv: string[]; input?: string }[] = [];
  /** Print hash comments unquoted, as some iptables-nft versions do. */
  unquotedComments = false;
  /** When set, the next restore fails at COMMIT with this message, applying nothing. */
  failNextCommit?: string;

  table(backend: string, v: 4 | 6, name: string): FakeTable {
    const key = `${backend}|${v}|${name}`;
    let t = this.tables.get(key);
    if (!t) {
      t = new Map();
      for (const c of BUILTIN_CHAINS[name] ?? []) t.set(c, { policy: 'ACCEPT', rules: [] });
      this.tables.set(key, t);
    }
    return t;
  }

  /** The rules of a chain, as `-A <chain> <spec>` lines. */
  rules(backend: string, v: 4 | 6, table: string, chain: string): string[] {
    return (this.table(backend, v, table).get(chain)?.rules ?? []).map((r) => `-A ${chain} ${r}`);
  }

  restoreCalls(): { argv: string[]; input?: string }[] {
    return this.calls.filter((c) => c.argv.some((a) => a.endsWith('-restore')));
  }

  /** Streamed commands (big transactions): stdin is collected, and the command runs at end(). */
  readonly streamed: string[][] = [];

  start(argv: readonly string[]): StreamingCommand {
    const parts: string[] = [];
    this.streamed.push([...argv]);
    return {
      write: (data) => {
        parts.push(data);
        return Promise.resolve();
      },
      end: () => this.run(argv, { input: parts.join('') }),
      kill: () => undefined,
    };
  }

  run(argv: readonly string[], opts: { input?: string } = {}): Promise<ExecResult> {
    this.calls.push({ argv: [...argv], input: opts.input });
    const i = argv.findIndex((a) => BINARY.test(a));
    if (i < 0) return Promise.resolve({ code: 127, stdout: '', stderr: `fake iptables: no iptables binary in ${argv.join(' ')}` });
    const [, family, backend, op] = BINARY.exec(argv[i]!)!;
    const v = family === 'ip6tables' ? 6 : 4;
    const args = argv.slice(i + 1);
    // flock --verbose reports on stdout.
    const flockNote = argv[0] === 'flock' ? `flock: getting lock took 0.000002 seconds\nflock: executing ${argv[i]}\n` : '';
    if (op === 'save') {
      const t = args.indexOf('-t');
      const names = t >= 0 ? [args[t + 1]!] : [...this.tables.keys()].filter((k) => k.startsWith(`${backend}|${v}|`)).map((k) => k.split('|')[2]!);
      return Promise.resolve({ code: 0, stdout: names.map((n) => this.save(backend!, v, n)).join(''), stderr: '' });
    }
    try {
      this.restore(backend!, v, opts.input ?? '');
      return Promise.resolve({ code: 0, stdout: flockNote, stderr: '' });
    } catch (e) {
      if (!(e instanceof RestoreError)) throw e;
      const stderr = e.parse ? `${e.message}\n\nError occurred at line: ${e.lineNo}\n` : `iptables-restore: line ${e.lineNo} failed${e.message ? `: ${e.message}` : ''}\n`;
      return Promise.resolve({ code: e.parse ? 2 : 1, stdout: flockNote, stderr });
    }
  }

  private save(backend: string, v: 4 | 6, name: string): string {
    const t = this.table(backend, v, name);
    const out = [`# Generated by fake iptables-save`, `*${name}`];
    for (const [n, c] of t) out.push(`:${n} ${c.policy ?? '-'} [0:0]`);
    for (const [n, c] of t) {
      for (const r of c.rules) out.push(`-A ${n} ${this.unquotedComments ? r.replace(/--comment "(cali:[\w-]+)"/g, '--comment $1') : r}`);
    }
    out.push('COMMIT', '# Completed');
    return out.join('\n') + '\n';
  }

  private restore(backend: string, v: 4 | 6, input: string): void {
    const lines = input.split('\n');
    let staged: FakeTable | undefined;
    let tableName = '';
    for (let n = 1; n <= lines.length; n++) {
      const line = lines[n - 1]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      if (line.startsWith('*')) {
        tableName = line.slice(1);
        staged = cloneTable(this.table(backend, v, tableName));
        continue;
      }
      if (!staged) throw new RestoreError(n, 'no table');
      if (line === 'COMMIT') {
        if (this.failNextCommit !== undefined) {
          const msg = this.failNextCommit;
          this.failNextCommit = undefined;
          throw new RestoreError(n, msg);
        }
        this.tables.set(`${backend}|${v}|${tableName}`, staged);
        staged = undefined;
        continue;
      }
      this.applyLine(staged, line, n);
    }
  }

  private applyLine(t: FakeTable, line: string, n: number): void {
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      const c = t.get(name!);
      if (c?.policy !== undefined) {
        if (policy !== '-') c.policy = policy;
      } else t.set(name!, { rules: [] });
      return;
    }
    const m = /^(-[ADIRXFN]) (\S+)(?: (.*))?$/.exec(line);
    if (!m) throw new RestoreError(n, `bad line ${line}`, true);
    const [, op, chain, rest = ''] = m;
    if (op === '-N') {
      if (t.has(chain!)) throw new RestoreError(n, 'Chain already exists');
      t.set(chain!, { rules: [] });
      return;
    }
    const c = t.get(chain!);
    if (!c) throw new RestoreError(n, `Chain '${chain}' does not exist`, op !== '-X');
    const checkSpec = (spec: string): void => {
      for (const mm of spec.matchAll(/(?:^|\s)(?:-m|--match) (\S+)/g)) {
        if (!KNOWN_MATCHES.has(mm[1]!)) throw new RestoreError(n, `Couldn't load match \`${mm[1]}':No such file or directory`, true);
      }
      for (const target of targetsOf(spec)) {
        if (!TARGETS.has(target) && !t.has(target)) throw new RestoreError(n, `Couldn't load target \`${target}':No such file or directory`, true);
      }
    };
    switch (op) {
      case '-A':
        checkSpec(rest);
        c.rules.push(rest);
        return;
      case '-I': {
        const pos = /^(\d+) (.*)$/.exec(rest);
        const at = pos ? Number(pos[1]) - 1 : 0;
        const spec = pos ? pos[2]! : rest;
        checkSpec(spec);
        if (at > c.rules.length) throw new RestoreError(n, 'Index of insertion too big');
        c.rules.splice(at, 0, spec);
        return;
      }
      case '-R': {
        const pos = /^(\d+) (.*)$/.exec(rest);
        if (!pos) throw new RestoreError(n, 'bad -R', true);
        const at = Number(pos[1]) - 1;
        checkSpec(pos[2]!);
        if (at >= c.rules.length) throw new RestoreError(n, 'Index of replacement too big');
        c.rules[at] = pos[2]!;
        return;
      }
      case '-D': {
        if (/^\d+$/.test(rest)) {
          const at = Number(rest) - 1;
          if (at >= c.rules.length) throw new RestoreError(n, 'Index of deletion too big');
          c.rules.splice(at, 1);
          return;
        }
        const at = c.rules.findIndex((r) => norm(r) === norm(rest));
        if (at < 0) throw new RestoreError(n, '');
        c.rules.splice(at, 1);
        return;
      }
      case '-F':
        c.rules = [];
        return;
      case '-X': {
        if (c.policy !== undefined || c.rules.length > 0) throw new RestoreError(n, '');
        for (const other of t.values()) for (const r of other.rules) if (targetsOf(r).includes(chain!)) throw new RestoreError(n, '');
        t.delete(chain!);
        return;
      }
    }
  }
}
