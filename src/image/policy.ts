/**
 * Glance's default policy (glance/policies/image.py, image_member.py) in its persona form: an
 * admin may do anything; a project member manages the images its project owns; a reader reads
 * what it can see. Whether an image is visible at all is the domain's decision (`images.ts`),
 * made before these rules, as Glance's database layer makes it.
 */
import type { RuleDefault } from '../common/policy/enforcer.ts';

const ADMIN = 'role:admin';
const OWNER_MEMBER = `${ADMIN} or (role:member and project_id:%(project_id)s)`;
const READER = `${ADMIN} or role:reader`;
const SEER =
  `${ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s ` +
  `or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))`;

function rule(name: string, check: string, description?: string): RuleDefault {
  return {
    name,
    check_str: check,
    scope_types: ['project'],
    ...(description ? { description } : {}),
  };
}

export const IMAGE_POLICY: readonly RuleDefault[] = [
  rule('context_is_admin', ADMIN),
  rule('default', ADMIN),
  rule('add_image', OWNER_MEMBER, 'Create an image owned by project_id.'),
  rule('get_image', SEER),
  rule('get_images', READER),
  rule('modify_image', OWNER_MEMBER),
  rule('publicize_image', ADMIN, 'Make an image public.'),
  rule('communitize_image', OWNER_MEMBER, 'Make an image visible to the community.'),
  rule('delete_image', OWNER_MEMBER),
  rule('upload_image', OWNER_MEMBER),
  rule('download_image', SEER),
  rule('copy_image', ADMIN, 'Copy an image to other stores (copy-image import).'),
  rule('deactivate', OWNER_MEMBER),
  rule('reactivate', OWNER_MEMBER),
  rule('add_member', OWNER_MEMBER),
  rule('delete_member', OWNER_MEMBER),
  rule(
    'get_member',
    `${ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))`,
  ),
  rule(
    'get_members',
    `${ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))`,
  ),
  rule('modify_member', `${ADMIN} or (role:member and project_id:%(member_id)s)`),
  rule('get_task', ADMIN),
];
