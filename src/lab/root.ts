/**
 * The lab changes network namespaces, so every mutating lab operation checks for root first and
 * says so plainly instead of failing halfway with EPERM from `ip`.
 */
import { UserError } from '../util/errors.js';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new UserError('tortie lab needs root (it creates network namespaces): run it with sudo', { code: 'E_NOT_ROOT' });
  }
}

