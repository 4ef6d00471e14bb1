/** Identity errors with Keystone's wording, which clients and operators know. */
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
} from '../common/errors.ts';

export type EntityKind =
  | 'domain'
  | 'project'
  | 'user'
  | 'group'
  | 'role'
  | 'implied role'
  | 'region'
  | 'service'
  | 'endpoint'
  | 'application credential'
  | 'credential'
  | 'registered limit'
  | 'limit'
  | 'role assignment';

function codeOf(kind: EntityKind): string {
  return kind.replaceAll(' ', '_');
}

export function notFound(kind: EntityKind, id: string): NotFoundError {
  return new NotFoundError(`Could not find ${kind}: ${id}.`, `identity.${codeOf(kind)}_not_found`);
}

export function duplicate(kind: EntityKind, detail: string): ConflictError {
  return new ConflictError(
    `Conflict occurred attempting to store ${kind} - ${detail}.`,
    `identity.${codeOf(kind)}_conflict`,
  );
}

export function invalid(message: string): BadRequestError {
  return new BadRequestError(message, 'identity.validation_error');
}

/** Authentication failures never say whether the user exists (no enumeration). */
export function authenticationFailed(): UnauthorizedError {
  return new UnauthorizedError(
    'The request you have made requires authentication.',
    'identity.authentication_failed',
  );
}

export function forbiddenAction(rule: string): ForbiddenError {
  return new ForbiddenError(
    `You are not authorized to perform the requested action: ${rule}.`,
    'identity.forbidden_action',
  );
}

export function forbidden(message: string): ForbiddenError {
  return new ForbiddenError(message, 'identity.forbidden');
}
