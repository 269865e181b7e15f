/**
 * Public face of the BGP-4 wire codec: bytes ↔ messages, pure (no sockets, timers, FSM or RIB).
 * Everything above `src/bgp/wire` imports from here.
 */
export * from './types.js';
export { BgpDecodeError, BgpEncodeError, isBgpDecodeError, type BgpErrorAction } from './errors.js';
export { Framer, type FramerOptions } from './framer.js';
export { checkHeader, maxLengthFor } from './header.js';
export { decodeOpen, encodeOpen, checkOpen, peerAsOf, myAsField, type OpenExpectations } from './open.js';
export {
  encodeKeepalive,
  decodeKeepalive,
  encodeNotification,
  decodeNotification,
  encodeRouteRefresh,
  decodeRouteRefresh,
  ROUTE_REFRESH_INVALID_LENGTH,
} from './control.js';
export { negotiateCodecOptions } from './negotiate.js';
export { decode } from './decode.js';
export { decodeUpdate, isEndOfRib, ATTR_CACHE_MAX_ENTRIES } from './update.js';
export { encodeUpdate, encodeAttributes, encodeMpReach, encodeMpUnreach } from './encode-update.js';
export { packUpdates, packWithdrawals, encodeEndOfRib, type PackFamily, type PrefixInput } from './pack.js';
export { ATTRIBUTES, decodeAsPath, encodeAsPath, mergeAs4Path, type AttrCodec, type AttrAction } from './attributes.js';
export { FAMILIES, familyCodec, type FamilyCodec } from './families.js';
export { ipv6Text, parseIpv6, parseIpv4 } from './prefix.js';
