/**
 * Reads `ipset save`: what the kernel holds, for the sets tortie owns. One dump lists every set
 * in the namespace (`create NAME TYPE options...` followed by that set's `add NAME MEMBER`
 * lines); a set whose name does not pass `owns` is counted and skipped without looking at its
 * members, so kube-proxy's or an operator's sets are never interpreted.
 *
 * The members are kept as the kernel printed them: members.ts produces the same text for what
 * the calc wants, so comparing is string equality. A dump of 100,000 members is walked with
 * indexOf, one slice per member and no per-line regex or split.
 *
 * Options tortie never sets make a set one it would not have written (an operator's `timeout`,
 * `counters`, `comment`, a member's `nomatch`, ...): they are collected in `extra`, which makes
 * the set unequal to any desired one, so it is recreated rather than patched.
 */

export interface KernelSetMeta {
  /** `hash:ip`, `hash:net`, `hash:ip,port`, or whatever else the set is. */
  type: string;
  family: string;
  maxelem: number;
  /** Options tortie does not write, space-separated; '' for a set tortie could have made. */
  extra: string;
}

export interface KernelSet {
  meta: KernelSetMeta;
  members: Map<string, true>;
}

export interface SaveDump {
  /** Owned sets by name. */
  owned: Map<string, KernelSet>;
  /** Every set in the namespace, owned or not (felix_ipsets_total). */
  total: number;
}

/** Header options whose value does not matter to tortie: the kernel picks them. */
const IGNORED_WITH_VALUE: ReadonlySet<string> = new Set(['hashsize', 'bucketsize', 'initval']);

function parseCreate(line: string): { name: string; meta: KernelSetMeta } | undefined {
  const words = line.split(' ');
  const name = words[1];
  const type = words[2];
  if (!name || !type) return undefined;
  const meta: KernelSetMeta = { type, family: '', maxelem: 0, extra: '' };
  const extra: string[] = [];
  for (let i = 3; i < words.length; i++) {
    const w = words[i]!;
    if (w === '') continue;
    if (w === 'family') meta.family = words[++i] ?? '';
    else if (w === 'maxelem') meta.maxelem = Number(words[++i]);
    else if (IGNORED_WITH_VALUE.has(w)) i++;
    else extra.push(w);
  }
  meta.extra = extra.join(' ');
  return { name, meta };
}

export function parseSave(text: string, owns: (name: string) => boolean): SaveDump {
  const owned = new Map<string, KernelSet>();
  let total = 0;
  let current: KernelSet | undefined;
  let addPrefix = '';
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    if (current !== undefined && text.startsWith(addPrefix, pos)) {
      const from = pos + addPrefix.length;
      const space = text.indexOf(' ', from);
      if (space >= 0 && space < end) {
        current.members.set(text.slice(from, space), true);
        if (!current.meta.extra.includes('member-options')) current.meta.extra = `${current.meta.extra} member-options`.trim();
      } else {
        current.members.set(text.slice(from, end), true);
      }
    } else if (text.startsWith('create ', pos)) {
      total++;
      current = undefined;
      const c = parseCreate(text.slice(pos, end));
      if (c && owns(c.name)) {
        current = { meta: c.meta, members: new Map() };
        owned.set(c.name, current);
        addPrefix = `add ${c.name} `;
      }
    }
    pos = end + 1;
  }
  return { owned, total };
}
