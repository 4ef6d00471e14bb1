/**
 * Builds each service's `ServiceAuth`: an identity client logged in as the service's own user
 * (bootstrap creates them: nova, glance, …, password `identity.service_password`) and one token
 * cache per process, shared by every service in it.
 */
import type { FastifyInstance } from 'fastify';
import { TokenCache } from '../common/auth/token-cache.ts';
import { useTokenAuth } from '../common/auth/token-auth.ts';
import type { ServiceName } from '../common/config/schema.ts';
import type { ServiceAuth } from '../common/service.ts';
import { HttpIdentityClient } from '../identity/client.ts';
import { serviceUserOf } from './catalog.ts';
import { authUrl } from './clouds.ts';
import type { TstackConfig } from './config.ts';

export function serviceAuthFactory(config: TstackConfig): (service: ServiceName) => ServiceAuth {
  const cache = new TokenCache();
  const identityUrl = config.identity_url ?? authUrl(config);
  return (service) => {
    const username = serviceUserOf(service);
    let client: HttpIdentityClient | undefined;
    // Made on first use: identity itself needs none, and in `tstack up` identity is listening
    // by the time any other service takes a request.
    const clientOf = (): HttpIdentityClient => {
      client ??= new HttpIdentityClient({
        url: identityUrl,
        username: username ?? service,
        password: config.identity.service_password,
      });
      return client;
    };
    return {
      protect: (scope: FastifyInstance) =>
        useTokenAuth(scope, {
          client: { validateToken: (token, options) => clientOf().validateToken(token, options) },
          cache,
          wwwAuthenticateUri: identityUrl,
        }),
      serviceToken: () => clientOf().serviceToken(),
    };
  };
}
