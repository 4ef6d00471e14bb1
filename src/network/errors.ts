/**
 * Neutron's errors as clients see them: `{"NeutronError": {"type", "message", "detail"}}`, where
 * `type` is the upstream exception class name (derived from the code's last part, e.g.
 * `network.ip_address_generation_failure` → `IpAddressGenerationFailure`) and the message is
 * worded as neutron-lib words it.
 */
import {
  ApiError,
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
} from '../common/errors.ts';

/** A 400 for a bad attribute value: webob's HTTPBadRequest, as neutron's API layer raises it. */
export function badRequest(message: string): BadRequestError {
  return new BadRequestError(message, 'network.http_bad_request', {
    details: { type: 'HTTPBadRequest' },
  });
}

/** neutron-lib's InvalidInput (400). */
export function invalidInput(message: string): BadRequestError {
  return new BadRequestError(`Invalid input for operation: ${message}.`, 'network.invalid_input');
}

/** The value of one attribute failed validation. */
export function invalidAttribute(attribute: string, reason: string): BadRequestError {
  return badRequest(`Invalid input for ${attribute}. Reason: ${reason}.`);
}

/** `<Kind>NotFound` (404), worded `<Kind> <id> could not be found.` unless `message` says otherwise. */
export function notFound(kind: string, id: string, message?: string): NotFoundError {
  const name = kind.charAt(0).toUpperCase() + kind.slice(1);
  const type = kind
    .split(' ')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
  return new NotFoundError(message ?? `${name} ${id} could not be found.`, 'network.not_found', {
    details: { type: `${type}NotFound` },
  });
}

export function conflict(type: string, message: string): ConflictError {
  return new ConflictError(message, 'network.conflict', { details: { type } });
}

export function inUse(type: string, message: string): ConflictError {
  return conflict(type, message);
}

/** oslo.policy's refusal as neutron renders it; `expression` names the rules, e.g. `rule:x`. */
export function policyNotAuthorized(expression: string): ForbiddenError {
  return new ForbiddenError(`${expression} is disallowed by policy`, 'network.policy', {
    details: { type: 'PolicyNotAuthorized' },
  });
}

export function overQuota(resources: readonly string[]): ConflictError {
  return conflict('OverQuota', `Quota exceeded for resources: ['${resources.join("', '")}'].`);
}

export function ipAddressGenerationFailure(networkId: string): ConflictError {
  return conflict(
    'IpAddressGenerationFailure',
    `No more IP addresses available on network ${networkId}.`,
  );
}

/** `If-Match: revision_number=N` named a revision the resource no longer has. */
export function revisionConflict(expected: number, current: number): ApiError {
  return new ApiError(
    412,
    'network.revision_number_constraint_failed',
    `Constrained to ${expected}, but current revision is ${current}`,
    { details: { type: 'RevisionNumberConstraintFailed' } },
  );
}
