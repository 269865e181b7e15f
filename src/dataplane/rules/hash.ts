/**
 * Felix's rule hashes: the `cali:<hash>` comment on every rule it writes, by which it (and tortie,
 * taking over a Felix node) recognises its own rules and finds which ones changed.
 *
 * The hashes of one chain form a chain: start from SHA-224 of the chain name; for each rule,
 * SHA-224 of the previous digest followed by the rule rendered as `-A <chain> HASH <body>` (the
 * literal word HASH where the hash comment would go). Each hash is the first 16 characters of the
 * unpadded base64url digest, so a rule's hash depends on its chain, its position and every rule
 * before it. Rules inserted into or appended to a built-in chain are hashed the same way, the
 * appended ones under the chain name with `*appends*` added (felix/iptables/rules.go and table.go).
 */
import { createHash } from 'node:crypto';
import { ruleBody, type Chain, type Rule } from './chain.js';

export const RULE_HASH_LENGTH = 16;

export function ruleHashes(chainName: string, rules: readonly Rule[]): string[] {
  let digest = createHash('sha224').update(chainName).digest();
  return rules.map((r) => {
    const body = ruleBody(r);
    const text = body === '' ? `-A ${chainName} HASH` : `-A ${chainName} HASH ${body}`;
    digest = createHash('sha224').update(digest).update(text).digest();
    return digest.toString('base64url').slice(0, RULE_HASH_LENGTH);
  });
}

export function chainHashes(chain: Chain): string[] {
  return ruleHashes(chain.name, chain.rules);
}

/** Hashes of rules inserted at the top of a built-in chain (INPUT, FORWARD, ...). */
export function insertedRuleHashes(chainName: string, rules: readonly Rule[]): string[] {
  return ruleHashes(chainName, rules);
}

/** Hashes of rules appended to the end of a built-in chain. */
export function appendedRuleHashes(chainName: string, rules: readonly Rule[]): string[] {
  return ruleHashes(`${chainName}*appends*`, rules);
}
