/**
 * Turns a TCP byte stream into whole BGP messages. Framing is kept apart from decoding (as in
 * pg-protocol) so the decoder only ever sees one complete message, and so a header error is found
 * as soon as 19 bytes have arrived, before the rest of a bogus message is waited for.
 *
 * Messages that lie wholly inside one chunk are returned as subarrays of it (no copy). Only a
 * message split across chunks is assembled in a private buffer and copied out once complete.
 * After a thrown header error the framer is poisoned: the session must be reset, and any further
 * push throws the same error again rather than resynchronising on garbage.
 */
import { HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH } from './types.js';
import { checkHeader } from './header.js';
import { BgpDecodeError } from './errors.js';

export interface FramerOptions {
  /** RFC 8654 negotiated; can be switched on later with `setExtendedMessages`. */
  extendedMessages?: boolean;
}

export class Framer {
  private extended: boolean;
  /** Assembly buffer for a message split across chunks; allocated on first use. */
  private pending: Uint8Array | undefined;
  private pendingLen = 0;
  /** Length of the message being assembled, once its header is complete; 0 before that. */
  private pendingTotal = 0;
  private failed: BgpDecodeError | undefined;

  constructor(opts: FramerOptions = {}) {
    this.extended = opts.extendedMessages ?? false;
  }

  /** Called by the FSM once the OPEN exchange negotiated extended messages. */
  setExtendedMessages(on: boolean): void {
    this.extended = on;
  }

  /** Bytes held back waiting for the rest of a message. */
  get bufferedBytes(): number {
    return this.pendingLen;
  }

  /**
   * Feeds one chunk; returns the complete messages it finished, each including its header.
   * Throws BgpDecodeError on a header error; messages of this chunk before the bad header are then
   * lost — use `feed` when they matter (e.g. a NOTIFICATION followed by garbage).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.feed(chunk, (m) => out.push(m));
    return out;
  }

  /**
   * Feeds one chunk, handing each complete message to `onMessage` in order, then throws
   * BgpDecodeError if a header error follows them.
   */
  feed(chunk: Uint8Array, onMessage: (message: Uint8Array) => void): void {
    if (this.failed) throw this.failed;
    try {
      this.feedInner(chunk, onMessage);
    } catch (e) {
      if (e instanceof BgpDecodeError) this.failed = e;
      throw e;
    }
  }

  private feedInner(chunk: Uint8Array, onMessage: (message: Uint8Array) => void): void {
    let pos = 0;
    const end = chunk.length;
    if (this.pendingLen > 0) {
      pos = this.fillPending(chunk, onMessage);
      if (this.pendingLen > 0) return;
    }
    while (end - pos >= HEADER_LENGTH) {
      const len = checkHeader(chunk, pos, this.extended);
      if (end - pos < len) break;
      onMessage(chunk.subarray(pos, pos + len));
      pos += len;
    }
    if (pos < end) {
      const buf = this.assemblyBuffer();
      buf.set(chunk.subarray(pos), 0);
      this.pendingLen = end - pos;
      this.pendingTotal = 0;
      if (this.pendingLen >= HEADER_LENGTH) this.pendingTotal = checkHeader(buf, 0, this.extended);
    }
  }

  /** Completes the pending message from the front of `chunk`; returns how much of it was used. */
  private fillPending(chunk: Uint8Array, onMessage: (message: Uint8Array) => void): number {
    const buf = this.assemblyBuffer();
    let pos = 0;
    if (this.pendingTotal === 0) {
      const take = Math.min(HEADER_LENGTH - this.pendingLen, chunk.length);
      buf.set(chunk.subarray(0, take), this.pendingLen);
      this.pendingLen += take;
      pos = take;
      if (this.pendingLen < HEADER_LENGTH) return pos;
      this.pendingTotal = checkHeader(buf, 0, this.extended);
    }
    const take = Math.min(this.pendingTotal - this.pendingLen, chunk.length - pos);
    buf.set(chunk.subarray(pos, pos + take), this.pendingLen);
    this.pendingLen += take;
    pos += take;
    if (this.pendingLen === this.pendingTotal) {
      const total = this.pendingTotal;
      this.pendingLen = 0;
      this.pendingTotal = 0;
      onMessage(buf.slice(0, total));
    }
    return pos;
  }

  private assemblyBuffer(): Uint8Array {
    // Sized for the largest message any session can negotiate, so it never has to grow.
    return (this.pending ??= new Uint8Array(MAX_EXTENDED_MESSAGE_LENGTH));
  }
}
