/**
 * Connection collision resolution, RFC 4271 §6.8: when two TCP connections exist between the same
 * pair of speakers, the one initiated by the speaker with the higher BGP identifier survives.
 * Identifiers compare as unsigned 32-bit integers, not as strings.
 */

export function bgpIdToNumber(id: string): number {
  const p = id.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

/**
 * Which connection survives. `existingIsOutgoing` says who initiated the connection that is
 * already in OpenSent/OpenConfirm; the other one was initiated by the other side.
 */
export function collisionWinner(localId: string, remoteId: string, existingIsOutgoing: boolean): 'existing' | 'new' {
  const localWins = bgpIdToNumber(localId) > bgpIdToNumber(remoteId);
  // The survivor is the connection the higher-id speaker initiated.
  const survivorIsOutgoing = localWins;
  return survivorIsOutgoing === existingIsOutgoing ? 'existing' : 'new';
}
