/** `/v2/images/{id}/members`: share an image with projects; members accept or reject it. */
import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import type { Image } from '../images.ts';
import { authorize, imageTarget, viewerOf, type ApiDeps } from './context.ts';
import { ImageParams } from './images.ts';
import { memberView } from './views.ts';

const MemberParams = Type.Object({
  image_id: Type.String({ maxLength: 1024 }),
  member_id: Type.String({ maxLength: 1024 }),
});
const CreateBody = Type.Object({ member: Type.String({ minLength: 1, maxLength: 255 }) });
const UpdateBody = Type.Object({ status: Type.String({ maxLength: 64 }) });

export function memberRoutes(app: App, deps: ApiDeps): void {
  const { images, members } = deps;

  const load = async (request: FastifyRequest, id: string): Promise<Image> => {
    const viewer = viewerOf(request, deps);
    const image = await images.get(viewer, id);
    authorize(request, deps, 'get_image', imageTarget(image, viewer.projectId));
    return image;
  };

  app.post(
    '/v2/images/:image_id/members',
    { schema: { params: ImageParams, body: CreateBody } },
    async (request) => {
      const image = await load(request, request.params.image_id);
      authorize(request, deps, 'add_member', imageTarget(image));
      return memberView(await members.add(image, request.body.member));
    },
  );

  app.get('/v2/images/:image_id/members', { schema: { params: ImageParams } }, async (request) => {
    const image = await load(request, request.params.image_id);
    const viewer = viewerOf(request, deps);
    authorize(request, deps, 'get_members', imageTarget(image, viewer.projectId));
    const list = await members.list(viewer, image);
    return { members: list.map(memberView), schema: '/v2/schemas/members' };
  });

  app.get(
    '/v2/images/:image_id/members/:member_id',
    { schema: { params: MemberParams } },
    async (request) => {
      const image = await load(request, request.params.image_id);
      const viewer = viewerOf(request, deps);
      authorize(request, deps, 'get_member', imageTarget(image, viewer.projectId));
      return memberView(await members.get(viewer, image, request.params.member_id));
    },
  );

  app.put(
    '/v2/images/:image_id/members/:member_id',
    { schema: { params: MemberParams, body: UpdateBody } },
    async (request) => {
      const image = await load(request, request.params.image_id);
      const viewer = viewerOf(request, deps);
      const member = await members.get(viewer, image, request.params.member_id);
      authorize(request, deps, 'modify_member', imageTarget(image, member.member_id));
      return memberView(
        await members.setStatus(viewer, image, member.member_id, request.body.status),
      );
    },
  );

  app.delete(
    '/v2/images/:image_id/members/:member_id',
    { schema: { params: MemberParams } },
    async (request, reply) => {
      const image = await load(request, request.params.image_id);
      authorize(request, deps, 'delete_member', imageTarget(image));
      await members.delete(viewerOf(request, deps), image, request.params.member_id);
      return reply.status(204).send();
    },
  );
}
