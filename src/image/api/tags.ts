/** `/v2/images/{id}/tags/{tag}`: add and remove one tag. */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { authorize, imageTarget, viewerOf, type ApiDeps } from './context.ts';

const TagParams = Type.Object({
  image_id: Type.String({ maxLength: 1024 }),
  tag: Type.String({ minLength: 1, maxLength: 1024 }),
});

export function tagRoutes(app: App, deps: ApiDeps): void {
  const routes = [
    [
      'put',
      (image: Parameters<typeof deps.images.addTag>[0], tag: string) =>
        deps.images.addTag(image, tag),
    ],
    [
      'delete',
      (image: Parameters<typeof deps.images.removeTag>[0], tag: string) =>
        deps.images.removeTag(image, tag),
    ],
  ] as const;
  for (const [method, act] of routes) {
    app[method](
      '/v2/images/:image_id/tags/:tag',
      { schema: { params: TagParams } },
      async (request, reply) => {
        const viewer = viewerOf(request, deps);
        const image = await deps.images.get(viewer, request.params.image_id);
        authorize(request, deps, 'get_image', imageTarget(image, viewer.projectId));
        authorize(request, deps, 'modify_image', imageTarget(image));
        await act(image, request.params.tag);
        return reply.status(204).send();
      },
    );
  }
}
