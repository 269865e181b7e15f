/** Builders for the renderer's tests: a ParsedRule with every list empty, ids, configs. */
import type { ParsedRule, PolicyId } from '../../proto/policy.js';
import { resolveConfig, type RenderConfig, type ResolvedConfig } from './config.js';
import { toRestoreLines } from './restore.js';
import type { Chain } from './chain.js';

export function parsedRule(overrides: Partial<ParsedRule> = {}): ParsedRule {
  return {
    action: 'allow',
    srcNets: [],
    notSrcNets: [],
    dstNets: [],
    notDstNets: [],
    srcPorts: [],
    notSrcPorts: [],
    dstPorts: [],
    notDstPorts: [],
    srcIpSetIds: [],
    notSrcIpSetIds: [],
    dstIpSetIds: [],
    notDstIpSetIds: [],
    srcNamedPortIpSetIds: [],
    notSrcNamedPortIpSetIds: [],
    dstNamedPortIpSetIds: [],
    notDstNamedPortIpSetIds: [],
    ruleId: 'r0',
    ...overrides,
  };
}

export function gnp(name: string, tier = 'default'): PolicyId {
  return { tier, kind: 'GlobalNetworkPolicy', name };
}

export function np(namespace: string, name: string, tier = 'default'): PolicyId {
  return { tier, kind: 'NetworkPolicy', namespace, name };
}

/** Felix's unit-test mark bits (felix/rules/*_test.go), so their documented strings apply as-is. */
export const FELIX_TEST_MARKS = { accept: 0x8, pass: 0x10, scratch0: 0x20, scratch1: 0x40, drop: 0x80, wireguard: 0, endpoint: 0xff00, nonCaliEndpoint: 0x100 };

export function cfgWith(overrides: RenderConfig = {}): ResolvedConfig {
  return resolveConfig(overrides);
}

/** A chain's lines without the hash comments: what the tests write out by hand. */
export function linesOf(chain: Chain): string[] {
  return toRestoreLines(
    chain,
    chain.rules.map(() => ''),
  );
}
