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
