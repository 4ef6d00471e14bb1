/**
 * Request ids as oslo.middleware makes them: every response carries `x-openstack-request-id`
 * (`req-<uuid>`); an incoming one from a calling service becomes the global request id, logged on
 * every line so one user action can be followed across services.
 */
import { randomUUID } from 'node:crypto';

const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const REQUEST_ID_HEADER = 'x-openstack-request-id';

export function newRequestId(): string {
  return `req-${randomUUID()}`;
}

/** The caller's request id when it is well formed; anything else is ignored, never echoed. */
export function globalRequestIdFrom(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && REQUEST_ID.test(value) ? value : undefined;
}
