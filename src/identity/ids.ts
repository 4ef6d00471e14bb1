import { randomUUID } from 'node:crypto';

/** Keystone's ids: a uuid4 as 32 hex digits. */
export function newId(): string {
  return randomUUID().replaceAll('-', '');
}

export const DEFAULT_DOMAIN_ID = 'default';
