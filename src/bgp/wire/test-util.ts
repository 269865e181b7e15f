/**
 * Test helper: hex text (spaces, newlines and `#` comments allowed) to bytes, so test vectors can
 * be written the way RFC figures and packet dumps show them. Used only by tests and the corpus.
 */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/#[^\n]*/g, '').replace(/[\s:]/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`bad hex: ${clean}`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export const MARKER = 'ffffffffffffffffffffffffffffffff';
