/**
 * The small fixed-shape messages: KEEPALIVE (RFC 4271 §4.4), NOTIFICATION (§4.5) and
 * ROUTE-REFRESH (RFC 2918, with the RFC 7313 subtypes of enhanced route refresh).
 */
import {
  HEADER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  NotifCode,
  type KeepaliveMessage,
  type NotificationMessage,
  type RouteRefreshMessage,
} from './types.js';
import { BgpDecodeError, BgpEncodeError } from './errors.js';
import { put16, u16 } from './bytes.js';
import { writeHeader } from './header.js';

/** RFC 7313 §5: ROUTE-REFRESH error subcode "Invalid Message Length". */
export const ROUTE_REFRESH_INVALID_LENGTH = 1;
const ROUTE_REFRESH_LENGTH = HEADER_LENGTH + 4;

const KEEPALIVE_BYTES = (() => {
  const b = new Uint8Array(HEADER_LENGTH);
  writeHeader(b, HEADER_LENGTH, MessageType.Keepalive);
  return b;
})();

/** A fresh copy each call, so a caller that mutates it cannot corrupt later keepalives. */
export function encodeKeepalive(): Uint8Array {
  return KEEPALIVE_BYTES.slice();
}

export function decodeKeepalive(): KeepaliveMessage {
  return { type: MessageType.Keepalive };
}

export function decodeNotification(b: Uint8Array): NotificationMessage {
  return { type: MessageType.Notification, code: b[HEADER_LENGTH]!, subcode: b[HEADER_LENGTH + 1]!, data: b.slice(HEADER_LENGTH + 2) };
}

/**
 * Encodes a NOTIFICATION. Data that would not fit in one message is cut to fit (a NOTIFICATION is
 * the last thing sent on a session, so it must never fail to encode).
 */
export function encodeNotification(msg: { code: number; subcode: number; data?: Uint8Array }, opts?: { extendedMessages?: boolean }): Uint8Array {
  const max = opts?.extendedMessages ? 65535 : MAX_MESSAGE_LENGTH;
  const data = (msg.data ?? new Uint8Array(0)).subarray(0, max - HEADER_LENGTH - 2);
  const len = HEADER_LENGTH + 2 + data.length;
  const out = new Uint8Array(len);
  writeHeader(out, len, MessageType.Notification);
  out[HEADER_LENGTH] = msg.code;
  out[HEADER_LENGTH + 1] = msg.subcode;
  out.set(data, HEADER_LENGTH + 2);
  return out;
}

export function decodeRouteRefresh(b: Uint8Array): RouteRefreshMessage {
  if (b.length !== ROUTE_REFRESH_LENGTH) {
    // RFC 7313 §5: data is the complete message.
    throw new BgpDecodeError('ROUTE_REFRESH_BAD_LENGTH', NotifCode.RouteRefreshError, ROUTE_REFRESH_INVALID_LENGTH, `ROUTE-REFRESH of ${b.length} bytes, expected 23`, b.slice());
  }
  return { type: MessageType.RouteRefresh, afi: u16(b, HEADER_LENGTH), subtype: b[HEADER_LENGTH + 2]!, safi: b[HEADER_LENGTH + 3]! };
}

export function encodeRouteRefresh(msg: { afi: number; safi: number; subtype?: number }): Uint8Array {
  if (msg.afi < 0 || msg.afi > 0xffff || msg.safi < 0 || msg.safi > 0xff) throw new BgpEncodeError('ENCODE_FAMILY', `bad AFI/SAFI ${msg.afi}/${msg.safi}`);
  const out = new Uint8Array(ROUTE_REFRESH_LENGTH);
  writeHeader(out, ROUTE_REFRESH_LENGTH, MessageType.RouteRefresh);
  put16(out, HEADER_LENGTH, msg.afi);
  out[HEADER_LENGTH + 2] = msg.subtype ?? 0;
  out[HEADER_LENGTH + 3] = msg.safi;
  return out;
}
