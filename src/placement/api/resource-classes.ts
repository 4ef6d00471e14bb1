/** `/resource_classes[/{name}]` (1.2+; idempotent PUT from 1.7). */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { notFound } from '../errors.ts';
import { atLeast, authorize, compile, validate, type ApiDeps } from './context.ts';

const FROM_1_2 = { microversion: { min: '1.2' } };

const NameParams = Type.Object({ name: Type.String({ maxLength: 255 }) });

const nameBody = compile(
  Type.Object(
    { name: Type.String({ pattern: '^CUSTOM_[A-Z0-9_]+$', maxLength: 255 }) },
    { additionalProperties: false },
  ),
);

function classView(name: string): Record<string, unknown> {
  return { name, links: [{ rel: 'self', href: `/resource_classes/${name}` }] };
}

export function resourceClassRoutes(app: App, deps: ApiDeps): void {
  app.get('/resource_classes', { config: FROM_1_2 }, async (request) => {
    authorize(request, deps, 'resource_classes:list');
    const snap = await deps.state.current();
    const ordered = [...snap.classIds].sort((a, b) => a[1] - b[1]).map(([name]) => name);
    return { resource_classes: ordered.map(classView) };
  });

  app.post('/resource_classes', { config: FROM_1_2 }, async (request, reply) => {
    authorize(request, deps, 'resource_classes:create');
    const body = validate(nameBody, request.body);
    await deps.vocabulary.createClass(body.name);
    void reply.header('location', `/resource_classes/${body.name}`);
    return reply.status(201).send();
  });

  app.get(
    '/resource_classes/:name',
    { schema: { params: NameParams }, config: FROM_1_2 },
    async (request) => {
      authorize(request, deps, 'resource_classes:show');
      const snap = await deps.state.current();
      if (!snap.classIds.has(request.params.name))
        throw notFound(`No such resource class ${request.params.name}.`);
      return classView(request.params.name);
    },
  );

  app.put(
    '/resource_classes/:name',
    { schema: { params: NameParams }, config: FROM_1_2 },
    async (request, reply) => {
      authorize(request, deps, 'resource_classes:update');
      const name = request.params.name;
      if (atLeast(request, 7)) {
        const created = await deps.vocabulary.ensureClass(name);
        void reply.header('location', `/resource_classes/${name}`);
        return reply.status(created ? 201 : 204).send();
      }
      const body = validate(nameBody, request.body);
      await deps.vocabulary.renameClass(name, body.name);
      return reply.status(200).send(classView(body.name));
    },
  );

  app.delete(
    '/resource_classes/:name',
    { schema: { params: NameParams }, config: FROM_1_2 },
    async (request, reply) => {
      authorize(request, deps, 'resource_classes:delete');
      await deps.vocabulary.deleteClass(request.params.name);
      return reply.status(204).send();
    },
  );
}
