/** Token checks for benchmark targets: a fake identity in the process, tokens cached as `tstack up` caches them. */
import { TokenCache } from '../../src/common/auth/token-cache.ts';
import { useTokenAuth } from '../../src/common/auth/token-auth.ts';
import type { ServiceAuth } from '../../src/common/service.ts';
import { FakeIdentityClient } from '../../src/identity/fake-identity-client.ts';

export function benchAuth(): { auth: ServiceAuth; identity: FakeIdentityClient } {
  const identity = new FakeIdentityClient();
  // Validated tokens are cached as `tstack up` caches them (the fake answers in-process anyway).
  const cache = new TokenCache({ ttlMs: 5000, negativeTtlMs: 0 });
  return {
    identity,
    auth: {
      protect: (scope) =>
        useTokenAuth(scope, { client: identity, cache, wwwAuthenticateUri: 'http://127.0.0.1/v3' }),
      serviceToken: () => identity.serviceToken(),
    },
  };
}
