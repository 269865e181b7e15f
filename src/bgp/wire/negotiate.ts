/**
 * Derives the CodecOptions of a session from the two OPENs' capabilities: the wire-level facts
 * the encoder and decoder need (RFC 6793 4-octet AS, RFC 8654 extended messages, RFC 7911
 * add-path directions). Pure, so the FSM and tests compute it the same way.
 */
import { CapabilityCode, afiSafiKey, type AfiSafiKey, type Capability, type CodecOptions } from './types.js';

function has(caps: readonly Capability[], code: CapabilityCode): boolean {
  return caps.some((c) => c.code === code && !('unknown' in c));
}

function addPathModes(caps: readonly Capability[]): Map<AfiSafiKey, number> {
  const m = new Map<AfiSafiKey, number>();
  for (const c of caps) {
    if (!('unknown' in c) && c.code === CapabilityCode.AddPath) {
      for (const f of c.families) m.set(afiSafiKey(f.afi, f.safi), f.mode);
    }
  }
  return m;
}

/** RFC 7911 §4 mode bits. */
const ADD_PATH_RECEIVE = 1;
const ADD_PATH_SEND = 2;

export function negotiateCodecOptions(local: readonly Capability[], remote: readonly Capability[], ibgp: boolean): CodecOptions {
  const lp = addPathModes(local);
  const rp = addPathModes(remote);
  const addPathReceive = new Set<AfiSafiKey>();
  const addPathSend = new Set<AfiSafiKey>();
  for (const [k, mine] of lp) {
    const theirs = rp.get(k) ?? 0;
    if (mine & ADD_PATH_RECEIVE && theirs & ADD_PATH_SEND) addPathReceive.add(k);
    if (mine & ADD_PATH_SEND && theirs & ADD_PATH_RECEIVE) addPathSend.add(k);
  }
  return {
    fourOctetAs: has(local, CapabilityCode.FourOctetAs) && has(remote, CapabilityCode.FourOctetAs),
    extendedMessages: has(local, CapabilityCode.ExtendedMessage) && has(remote, CapabilityCode.ExtendedMessage),
    addPathReceive,
    addPathSend,
    ibgp,
  };
}
