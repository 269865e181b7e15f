/**
 * The one error class the codec throws. Every failure says what the protocol wants done about it,
 * so the FSM never has to interpret a message string: a stable `code` for logs and metrics, the
 * RFC 7606 `action`, and the NOTIFICATION (code, subcode, data) to send when the action is a
 * session reset. Anything else escaping the codec is a bug (the fuzzer asserts exactly that).
 *
 * Treat-as-withdraw and attribute-discard are not thrown: they are outcomes of a successful
 * decode and travel on the UpdateMessage (`treatAsWithdraw`, `diagnostics`).
 */

export type BgpErrorAction = 'session-reset' | 'treat-as-withdraw' | 'attribute-discard' | 'afi-safi-disable';

export class BgpDecodeError extends Error {
  /** Stable identifier, e.g. 'HEADER_BAD_MARKER'. */
  readonly code: string;
  readonly action: BgpErrorAction;
  /** NOTIFICATION error code (RFC 4271 §4.5). */
  readonly notifCode: number;
  readonly notifSubcode: number;
  /** NOTIFICATION data: only bytes that were actually received, never padded or over-read. */
  readonly data: Uint8Array;

  constructor(
    code: string,
    notifCode: number,
    notifSubcode: number,
    message: string,
    data: Uint8Array = EMPTY,
    action: BgpErrorAction = 'session-reset',
  ) {
    super(message);
    this.name = 'BgpDecodeError';
    this.code = code;
    this.action = action;
    this.notifCode = notifCode;
    this.notifSubcode = notifSubcode;
    this.data = data;
  }
}

export function isBgpDecodeError(e: unknown): e is BgpDecodeError {
  return e instanceof BgpDecodeError;
}

/** Thrown by encoders given a value that cannot be put on the wire (a caller bug, not peer input). */
export class BgpEncodeError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'BgpEncodeError';
    this.code = code;
  }
}

const EMPTY = new Uint8Array(0);
