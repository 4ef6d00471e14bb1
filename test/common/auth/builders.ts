/** Builders shared by the token middleware tests: a manual clock and an app behind the middleware. */
import { TokenCache, type TokenCacheOptions } from '../../../src/common/auth/token-cache.ts';
import { useTokenAuth, type TokenAuthOptions } from '../../../src/common/auth/token-auth.ts';
import { createApp, type App } from '../../../src/common/http/app.ts';
import type { ErrorStyle } from '../../../src/common/http/error-shapes.ts';
import { silentLogger } from '../../../src/common/logging.ts';
import { FakeIdentityClient } from '../../../src/identity/fake-identity-client.ts';

export const IDENTITY_URI = 'http://identity.example:5000';

/** Time that moves only when a test says so. */
export class ManualClock {
  #ms = Date.parse('2030-01-01T00:00:00Z');
  readonly now = (): number => this.#ms;
  advance(ms: number): void {
    this.#ms += ms;
  }
}

export type AuthHarness = {
  app: App;
  identity: FakeIdentityClient;
  cache: TokenCache;
  clock: ManualClock;
};

export type HarnessOptions = {
  style?: ErrorStyle;
  cache?: Omit<TokenCacheOptions, 'now'>;
  auth?: Partial<Pick<TokenAuthOptions, 'serviceTokenRoles' | 'serviceTokenRolesRequired'>>;
};

/**
 * A service with a public root and an authenticated `/v2.1` whose `/whoami` answers the
 * request's context and policy credentials.
 */
export function buildHarness(options: HarnessOptions = {}): AuthHarness {
  const clock = new ManualClock();
  const identity = new FakeIdentityClient({ now: clock.now });
  const cache = new TokenCache({ ...options.cache, now: clock.now });
  const app = createApp({
    service: 'test',
    errorStyle: options.style ?? 'nova',
    logger: silentLogger(),
  });
  app.get('/', async () => ({ versions: [] }));
  void app.register(
    async (scope) => {
      useTokenAuth(scope, {
        client: identity,
        cache,
        wwwAuthenticateUri: IDENTITY_URI,
        now: clock.now,
        ...options.auth,
      });
      scope.get('/whoami', async (request) => ({
        context: request.auth,
        credentials: request.auth.toPolicyCredentials(),
      }));
    },
    { prefix: '/v2.1' },
  );
  return { app, identity, cache, clock };
}

/** What `/v2.1/whoami` answers: the context as JSON (tokens left out) and the credentials. */
export type WhoAmI = {
  context: Record<string, unknown>;
  credentials: Record<string, unknown>;
};

/** GET /v2.1/whoami with the given headers. */
export async function whoami(app: App, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'GET', url: '/v2.1/whoami', headers });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: response.json<unknown>(),
    /** The body of a 200. */
    who: () => response.json<WhoAmI>(),
  };
}
