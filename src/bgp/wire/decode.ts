/**
 * `decode(message, opts)`: one complete BGP message (header included, as the Framer yields it)
 * to a BgpMessage. Dispatches on the type through a table, after re-checking the header so the
 * function is safe on bytes that did not come through a Framer.
 */
import { HEADER_LENGTH, HeaderErrorSubcode, NotifCode, type BgpMessage, type CodecOptions } from './types.js';
import { BgpDecodeError } from './errors.js';
import { checkHeader } from './header.js';
import { decodeOpen } from './open.js';
import { decodeKeepalive, decodeNotification, decodeRouteRefresh } from './control.js';
import { decodeUpdate } from './update.js';

type MessageDecoder = (b: Uint8Array, opts: CodecOptions) => BgpMessage;

const DECODERS: readonly (MessageDecoder | undefined)[] = [
  undefined,
  decodeOpen,
  decodeUpdate,
  decodeNotification,
  decodeKeepalive,
  decodeRouteRefresh,
];

export function decode(msg: Uint8Array, opts: CodecOptions): BgpMessage {
  if (msg.length < HEADER_LENGTH) {
    throw new BgpDecodeError('HEADER_TRUNCATED', NotifCode.MessageHeaderError, HeaderErrorSubcode.BadMessageLength, `message of ${msg.length} bytes is shorter than a header`);
  }
  const len = checkHeader(msg, 0, opts.extendedMessages);
  if (len !== msg.length) {
    throw new BgpDecodeError('HEADER_BAD_LENGTH', NotifCode.MessageHeaderError, HeaderErrorSubcode.BadMessageLength, `header says ${len} bytes, message has ${msg.length}`, msg.slice(16, 18));
  }
  return DECODERS[msg[18]!]!(msg, opts);
}
