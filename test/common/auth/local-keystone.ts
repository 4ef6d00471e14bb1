/**
 * A small local imitation of Keystone's token endpoints (`POST` and `GET /v3/auth/tokens`) on
 * 127.0.0.1, backed by a `FakeIdentityClient`, for tests of the real HTTP identity client. The
 * service user is `nova` / `secret`.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { TokenInfo } from '../../../src/common/auth/token-validator.ts';
import { FakeIdentityClient } from '../../../src/identity/fake-identity-client.ts';
import { ManualClock } from './builders.ts';

/** Keystone's wire body for a token (the inverse of `parseTokenBody`). */
export function wire(info: TokenInfo, catalog: boolean): unknown {
  const s = info.scope;
  return {
    token: {
      methods: info.methods,
      user: { ...info.user, password_expires_at: null },
      ...(s.kind === 'project' ? { project: s.project } : {}),
      ...(s.kind === 'domain' ? { domain: s.domain } : {}),
      ...(s.kind === 'system' ? { system: { all: true } } : {}),
      roles: info.roles,
      audit_ids: info.auditIds,
      expires_at: info.expiresAt.toISOString(),
      issued_at: info.issuedAt.toISOString(),
      is_domain: info.isDomain,
      ...(catalog ? { catalog: [] } : {}),
    },
  };
}

export type Keystone = {
  server: FastifyInstance;
  url: string;
  backend: FakeIdentityClient;
  clock: ManualClock;
  posts: unknown[];
  gets: { authToken: unknown; subjectToken: unknown; query: Record<string, string> }[];
  /** Set to answer every GET with this status instead. */
  override: { status?: number; body?: string };
};

/** Starts the imitation on a free port; close `server` after. */
export async function startKeystone(): Promise<Keystone> {
  const clock = new ManualClock();
  const backend = new FakeIdentityClient({ now: clock.now });
  const server = Fastify();
  const k: Keystone = { server, url: '', backend, clock, posts: [], gets: [], override: {} };
  const error = (code: number, title: string) => ({ error: { code, title, message: title } });
  server.post('/v3/auth/tokens', async (request, reply) => {
    k.posts.push(request.body);
    const { user } = (
      request.body as {
        auth: { identity: { password: { user: { name: string; password: string } } } };
      }
    ).auth.identity.password;
    if (user.name !== 'nova' || user.password !== 'secret')
      return reply.status(401).send(error(401, 'Unauthorized'));
    const token = backend.issueToken({
      userName: 'nova',
      project: { name: 'service' },
      roles: ['service', 'admin'],
    });
    return reply
      .status(201)
      .header('x-subject-token', token)
      .send(wire(backend.tokenInfo(token)!, false));
  });
  server.get('/v3/auth/tokens', async (request, reply) => {
    const query = { ...(request.query as Record<string, string>) };
    k.gets.push({
      authToken: request.headers['x-auth-token'],
      subjectToken: request.headers['x-subject-token'],
      query,
    });
    if (k.override.status !== undefined)
      return reply
        .status(k.override.status)
        .type('application/json')
        .send(k.override.body ?? '{}');
    const caller = await backend.validateToken(String(request.headers['x-auth-token']));
    if (caller === null) return reply.status(401).send(error(401, 'Unauthorized'));
    const subject = await backend.validateToken(String(request.headers['x-subject-token']), {
      allowExpired: query['allow_expired'] === '1',
    });
    if (subject === null) return reply.status(404).send(error(404, 'Not Found'));
    return reply
      .header('x-subject-token', request.headers['x-subject-token'])
      .send(wire(subject, !('nocatalog' in query)));
  });
  k.url = await server.listen({ host: '127.0.0.1', port: 0 });
  return k;
}
