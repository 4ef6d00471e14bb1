/** What every image route needs: the domain objects, the policy, and who is calling. */
import type { FastifyRequest } from 'fastify';
import type { PolicyEnforcer, PolicyTarget } from '../../common/policy/enforcer.ts';
import type { ImageConfig } from '../config.ts';
import type { Db, Image, Images, Viewer } from '../images.ts';
import type { Members } from '../members.ts';
import type { ImageData } from '../image-data.ts';
import type { StoreSet } from '../store/store-set.ts';

export type ApiDeps = {
  /** The data path: uploads, staging, imports, downloads; deleting an image deletes its data. */
  data: ImageData;
  stores: StoreSet;
  db: Db;
  images: Images;
  members: Members;
  policy: PolicyEnforcer;
  config: ImageConfig;
};

export function viewerOf(request: FastifyRequest, deps: ApiDeps): Viewer {
  const credentials = request.auth.toPolicyCredentials();
  return {
    projectId: request.auth.projectId,
    isAdmin: deps.policy.enforce('context_is_admin', {}, credentials),
  };
}

/** The policy target of an image, as Glance's ImageTarget exposes it. */
export function imageTarget(image: Image, memberId?: string): PolicyTarget {
  return {
    project_id: image.owner ?? undefined,
    owner: image.owner ?? undefined,
    visibility: image.visibility,
    member_id: memberId,
    id: image.id,
  };
}

/** @throws ForbiddenError (403) when the policy denies `rule`. */
export function authorize(
  request: FastifyRequest,
  deps: ApiDeps,
  rule: string,
  target: PolicyTarget,
): void {
  deps.policy.authorize(rule, target, request.auth.toPolicyCredentials());
}

/**
 * The image `id` as the caller may see it, with `get_image` checked (a member of a shared image
 * is its own target). @throws NotFoundError (404), ForbiddenError (403).
 */
export async function loadImage(
  request: FastifyRequest,
  deps: ApiDeps,
  id: string,
): Promise<Image> {
  const viewer = viewerOf(request, deps);
  const image = await deps.images.get(viewer, id);
  const member = image.visibility === 'shared' ? viewer.projectId : undefined;
  authorize(request, deps, 'get_image', imageTarget(image, member));
  return image;
}
