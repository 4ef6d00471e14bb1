/** `ServiceAuth`s for in-process service tests. */
import type { FastifyInstance } from 'fastify';
import { TokenCache } from '../../src/common/auth/token-cache.ts';
import { useTokenAuth } from '../../src/common/auth/token-auth.ts';
import type { ServiceAuth } from '../../src/common/service.ts';
import { FakeIdentityClient } from '../../src/identity/fake-identity-client.ts';

/** For identity, which validates its own tokens: any use is a bug in the test. */
export const UNUSED_AUTH: ServiceAuth = {
  protect: () => {
    throw new Error('identity validates tokens itself');
  },
  serviceToken: () => Promise.reject(new Error('identity needs no service token')),
};

/** Token checks against a `FakeIdentityClient` the test issues tokens from. */
export function fakeAuth(serviceRoles?: readonly string[]): {
  auth: ServiceAuth;
  identity: FakeIdentityClient;
} {
  const identity = new FakeIdentityClient(
    serviceRoles !== undefined
      ? { serviceUser: { name: 'tstack-service', roles: serviceRoles } }
      : {},
  );
  const cache = new TokenCache({ ttlMs: 0, negativeTtlMs: 0 });
  return {
    identity,
    auth: {
      protect: (scope: FastifyInstance) =>
        useTokenAuth(scope, {
          client: identity,
          cache,
          wwwAuthenticateUri: 'http://127.0.0.1:5000/v3',
        }),
      serviceToken: () => identity.serviceToken(),
    },
  };
}
