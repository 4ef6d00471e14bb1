/**
 * Placement's error codes (the `code` of its JSON errors, microversion 1.23) and the errors its
 * clients match on, worded as upstream Placement words them.
 */
import { BadRequestError, ConflictError, NotFoundError } from '../common/errors.ts';

export const CODES = {
  default: 'placement.undefined_code',
  inventoryInUse: 'placement.inventory.inuse',
  concurrentUpdate: 'placement.concurrent_update',
  duplicateName: 'placement.duplicate_name',
  providerInUse: 'placement.resource_provider.inuse',
  cannotDeleteParent: 'placement.resource_provider.cannot_delete_parent',
  providerNotFound: 'placement.resource_provider.not_found',
  duplicateQueryParam: 'placement.query.duplicate_key',
  badQueryValue: 'placement.query.bad_value',
  missingQueryValue: 'placement.query.missing_value',
} as const;

export function badRequest(message: string, code: string = CODES.default): BadRequestError {
  return new BadRequestError(message, code);
}

export function conflict(message: string, code: string = CODES.default): ConflictError {
  return new ConflictError(message, code);
}

export function notFound(message: string, code: string = CODES.default): NotFoundError {
  return new NotFoundError(message, code);
}

export function providerNotFound(uuid: string): NotFoundError {
  return new NotFoundError(`No resource provider with uuid ${uuid} found`, CODES.default);
}

/** The generation the caller sent is not the provider's: re-read and try again. */
export function providerGenerationConflict(uuid: string): ConflictError {
  return new ConflictError(
    `resource provider generation conflict: the generation given for ${uuid} is not its current generation; re-read the provider and retry`,
    CODES.concurrentUpdate,
  );
}
