/** Image errors with Glance's wording, which clients and operators know. */
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
} from '../common/errors.ts';

export function imageNotFound(id: string): NotFoundError {
  return new NotFoundError(`No image found with ID ${id}`, 'image.image_not_found');
}

export function memberNotFound(imageId: string, memberId: string): NotFoundError {
  return new NotFoundError(
    `The specified member ${memberId} could not be found for image ${imageId}`,
    'image.member_not_found',
  );
}

export function invalid(message: string): BadRequestError {
  return new BadRequestError(message, 'image.invalid');
}

export function forbidden(message: string): ForbiddenError {
  return new ForbiddenError(message, 'image.forbidden');
}

export function conflict(message: string): ConflictError {
  return new ConflictError(message, 'image.conflict');
}

/** Glance answers a quota it enforces itself with 413 Request Entity Too Large. */
export function overLimit(message: string): PayloadTooLargeError {
  return new PayloadTooLargeError(message, 'image.over_limit');
}

export function tagNotFound(tag: string): NotFoundError {
  return new NotFoundError(`Tag ${tag} not found`, 'image.tag_not_found');
}
