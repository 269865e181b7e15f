/**
 * Human names for NOTIFICATION codes and subcodes (RFC 4271 §4.5, RFC 4486 Cease subcodes, RFC 6608
 * FSM errors), worded like BIRD's so `tortie status` reads like `birdc show protocols`.
 */
import type { NotificationInfo } from './types.js';

const CODES: Record<number, string> = {
  1: 'Message header error',
  2: 'OPEN message error',
  3: 'UPDATE message error',
  4: 'Hold timer expired',
  5: 'Finite state machine error',
  6: 'Cease',
  7: 'Route refresh error',
};

const SUBCODES: Record<string, string> = {
  '1/1': 'Connection not synchronized',
  '1/2': 'Bad message length',
  '1/3': 'Bad message type',
  '2/1': 'Unsupported version number',
  '2/2': 'Bad peer AS',
  '2/3': 'Bad BGP identifier',
  '2/4': 'Unsupported optional parameter',
  '2/6': 'Unacceptable hold time',
  '2/7': 'Unsupported capability',
  '3/1': 'Malformed attribute list',
  '3/2': 'Unrecognized well-known attribute',
  '3/3': 'Missing mandatory attribute',
  '3/4': 'Attribute flags error',
  '3/5': 'Attribute length error',
  '3/6': 'Invalid ORIGIN attribute',
  '3/8': 'Invalid NEXT_HOP attribute',
  '3/9': 'Optional attribute error',
  '3/10': 'Invalid network field',
  '3/11': 'Malformed AS_PATH',
  '5/1': 'Unexpected message in OpenSent state',
  '5/2': 'Unexpected message in OpenConfirm state',
  '5/3': 'Unexpected message in Established state',
  '6/1': 'Maximum number of prefixes reached',
  '6/2': 'Administrative shutdown',
  '6/3': 'Peer de-configured',
  '6/4': 'Administrative reset',
  '6/5': 'Connection rejected',
  '6/6': 'Other configuration change',
  '6/7': 'Connection collision resolution',
  '6/8': 'Out of resources',
  '6/9': 'Hard reset',
};

export function describeNotification(n: Pick<NotificationInfo, 'code' | 'subcode'>): string {
  return SUBCODES[`${n.code}/${n.subcode}`] ?? CODES[n.code] ?? `Unknown error ${n.code}/${n.subcode}`;
}
