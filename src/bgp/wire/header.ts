/**
 * The 19-octet message header (RFC 4271 §4.1) and its checks (§6.1). Shared by the framer, which
 * must know a message's length before it has the whole message, and by `decode`, which re-checks
 * a single message handed to it directly (tests, the malformed corpus).
 */
import {
  HEADER_LENGTH,
  HeaderErrorSubcode,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  NotifCode,
} from './types.js';
import { BgpDecodeError } from './errors.js';

const MARKER_LENGTH = 16;

/** Smallest legal length of each message type (RFC 4271 §4.2–4.5, RFC 2918 §3). */
const MIN_LENGTH: readonly number[] = [
  /* 0 */ 0,
  /* OPEN: header + version, AS, hold time, id, opt len */ 29,
  /* UPDATE: header + two 2-octet length fields */ 23,
  /* NOTIFICATION: header + code, subcode */ 21,
  /* KEEPALIVE: header only */ 19,
  /* ROUTE-REFRESH: header + AFI, subtype, SAFI */ 23,
];

/** Largest legal length for a type; RFC 8654 §3 keeps OPEN and KEEPALIVE at 4096 regardless. */
export function maxLengthFor(type: number, extendedMessages: boolean): number {
  if (!extendedMessages || type === MessageType.Open || type === MessageType.Keepalive) return MAX_MESSAGE_LENGTH;
  return MAX_EXTENDED_MESSAGE_LENGTH;
}

/**
 * Checks the header at `off` (at least HEADER_LENGTH bytes must be available) and returns the
 * message length. Throws the RFC 4271 §6.1 header errors.
 */
export function checkHeader(buf: Uint8Array, off: number, extendedMessages: boolean): number {
  for (let i = 0; i < MARKER_LENGTH; i++) {
    if (buf[off + i] !== 0xff) {
      throw new BgpDecodeError(
        'HEADER_BAD_MARKER',
        NotifCode.MessageHeaderError,
        HeaderErrorSubcode.ConnectionNotSynchronized,
        'message header marker is not all ones: the stream is out of sync',
      );
    }
  }
  const length = (buf[off + 16]! << 8) | buf[off + 17]!;
  const type = buf[off + 18]!;
  if (type < MessageType.Open || type > MessageType.RouteRefresh) {
    throw new BgpDecodeError(
      'HEADER_BAD_TYPE',
      NotifCode.MessageHeaderError,
      HeaderErrorSubcode.BadMessageType,
      `unknown message type ${type}`,
      buf.slice(off + 18, off + 19),
    );
  }
  if (length < MIN_LENGTH[type]! || length > maxLengthFor(type, extendedMessages) || (type === MessageType.Keepalive && length !== HEADER_LENGTH)) {
    throw new BgpDecodeError(
      'HEADER_BAD_LENGTH',
      NotifCode.MessageHeaderError,
      HeaderErrorSubcode.BadMessageLength,
      `bad length ${length} for message type ${type}`,
      buf.slice(off + 16, off + 18),
    );
  }
  return length;
}

/** Writes a header into `out` at offset 0. */
export function writeHeader(out: Uint8Array, length: number, type: MessageType): void {
  out.fill(0xff, 0, MARKER_LENGTH);
  out[16] = length >>> 8;
  out[17] = length & 0xff;
  out[18] = type;
}

export { HEADER_LENGTH };
