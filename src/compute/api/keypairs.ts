/**
 * `/os-keypairs`: a user's key pairs, by microversion: `type` from 2.2 (with 201/204), acting for
 * another user (`user_id`, admins) from 2.10, paging from 2.35, and no server-side key
 * generation from 2.92.
 */
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { baseUrlOf } from '../../common/http/version-discovery.ts';
import { BadRequestError, ForbiddenError } from '../../common/errors.ts';
import type { KeyPair } from '../keypairs.ts';
import {
  atLeast,
  authorize,
  invalidField,
  onlyKeys,
  unwrap,
  type ApiDeps,
  last,
  pageOf,
  type Query,
  MAX_LIMIT,
} from './context.ts';

const NameParams = Type.Object({ name: Type.String({ maxLength: 255 }) });

/** Whose key pairs: the caller's, or (2.10+) the `user_id` asked for. */
function userOf(request: FastifyRequest, asked: string | undefined): string {
  return asked !== undefined && atLeast(request, 10) ? asked : request.auth.userId;
}

/** Nova's timestamps: microseconds, no zone. */
function novaTime(iso: string): string {
  return `${iso.slice(0, 19)}.${iso.slice(20, 23).padEnd(6, '0')}`;
}

function listItem(request: FastifyRequest, k: KeyPair): Record<string, unknown> {
  return {
    keypair: {
      name: k.name,
      public_key: k.public_key,
      fingerprint: k.fingerprint,
      ...(atLeast(request, 2) ? { type: k.type } : {}),
    },
  };
}

export function keyPairRoutes(app: App, deps: ApiDeps): void {
  const { keyPairs } = deps;

  app.get('/os-keypairs', async (request) => {
    const query = request.query as Query;
    const userId = userOf(request, last(query, 'user_id'));
    authorize(request, deps, 'os_compute_api:os-keypairs:index', { user_id: userId });
    // Paging is 2.35's; before, limit and marker are ignored.
    const page = atLeast(request, 35) ? pageOf(query) : {};
    const found = await keyPairs.list(userId, page);
    const out: Record<string, unknown> = { keypairs: found.map((k) => listItem(request, k)) };
    const max = Math.min(page.limit ?? MAX_LIMIT, MAX_LIMIT);
    if (atLeast(request, 35) && found.length > 0 && found.length === max) {
      const params = new URLSearchParams();
      for (const key of Object.keys(query).sort())
        if (key !== 'marker') params.set(key, last(query, key) ?? '');
      params.set('marker', found.at(-1)?.name ?? '');
      out['keypairs_links'] = [
        { href: `${baseUrlOf(request)}/v2.1/os-keypairs?${params.toString()}`, rel: 'next' },
      ];
    }
    return out;
  });

  app.get('/os-keypairs/:name', { schema: { params: NameParams } }, async (request) => {
    const userId = userOf(request, last(request.query as Query, 'user_id'));
    authorize(request, deps, 'os_compute_api:os-keypairs:show', { user_id: userId });
    const k = await keyPairs.get(userId, request.params.name);
    return {
      keypair: {
        name: k.name,
        public_key: k.public_key,
        fingerprint: k.fingerprint,
        user_id: k.user_id,
        ...(atLeast(request, 2) ? { type: k.type } : {}),
        id: k.id,
        created_at: novaTime(k.created_at),
        updated_at: null,
        deleted_at: null,
        deleted: false,
      },
    };
  });

  app.post('/os-keypairs', async (request, reply) => {
    const body = unwrap(request.body, 'keypair');
    onlyKeys(
      body,
      [
        'name',
        'public_key',
        ...(atLeast(request, 2) ? ['type'] : []),
        ...(atLeast(request, 10) ? ['user_id'] : []),
      ],
      'keypair',
    );
    const name = body['name'];
    if (typeof name !== 'string')
      throw invalidField('keypair', body, "'name' is a required property");
    if (name.length < 1 || name.length > 255 || name.trim() !== name)
      throw new BadRequestError(
        "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.",
        'compute.bad_request',
      );
    const pattern = atLeast(request, 92) ? /^[_\-@. a-zA-Z0-9]+$/ : /^[_\- a-zA-Z0-9]+$/;
    if (!pattern.test(name))
      throw invalidField('name', name, `'${name}' does not match '${pattern.source}'`);
    const type = body['type'] ?? 'ssh';
    if (type !== 'ssh' && type !== 'x509')
      throw invalidField('type', type, `${JSON.stringify(type)} is not one of ['ssh', 'x509']`);
    const publicKey = body['public_key'];
    if (publicKey !== undefined && typeof publicKey !== 'string')
      throw invalidField('public_key', publicKey, "is not of type 'string'");
    if (publicKey === undefined && atLeast(request, 92))
      throw invalidField('keypair', body, "'public_key' is a required property");
    if (publicKey === undefined && type === 'x509')
      throw new BadRequestError(
        'Generating x509 key pairs is not offered; import a certificate instead.',
        'compute.bad_request',
      );
    const asked = body['user_id'];
    const userId = typeof asked === 'string' ? asked : request.auth.userId;
    authorize(request, deps, 'os_compute_api:os-keypairs:create', { user_id: userId });
    // Nova counts a user's key pairs against the `key_pairs` limit of the caller's project
    // (its own quota set, else the default class); -1 is no limit.
    const limit = (await deps.quotas.limitsOf(request.auth.projectId ?? '')).key_pairs;
    if (limit >= 0 && (await keyPairs.count(userId)) >= limit)
      throw new ForbiddenError('Quota exceeded, too many key pairs.', 'compute.keypair_quota');
    const { keyPair, privateKey } = await keyPairs.create(userId, name, type, publicKey);
    const view = {
      name: keyPair.name,
      public_key: keyPair.public_key,
      fingerprint: keyPair.fingerprint,
      user_id: keyPair.user_id,
      ...(atLeast(request, 2) ? { type: keyPair.type } : {}),
      ...(privateKey !== undefined ? { private_key: privateKey } : {}),
    };
    return reply.status(atLeast(request, 2) ? 201 : 200).send({ keypair: view });
  });

  app.delete('/os-keypairs/:name', { schema: { params: NameParams } }, async (request, reply) => {
    const userId = userOf(request, last(request.query as Query, 'user_id'));
    authorize(request, deps, 'os_compute_api:os-keypairs:delete', { user_id: userId });
    await keyPairs.delete(userId, request.params.name);
    return reply.status(atLeast(request, 2) ? 204 : 202).send();
  });
}
