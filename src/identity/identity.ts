/**
 * The identity domain assembled from one database and one key repository: what the API routes,
 * bootstrap and the local token validator use.
 */
import type { Kysely } from 'kysely';
import { ApplicationCredentials } from './application-credentials.ts';
import { Authenticator } from './authenticate.ts';
import { Catalog } from './catalog.ts';
import { Credentials } from './credentials.ts';
import type { IdentityConfig } from './config.ts';
import type { IdentityDatabase } from './db/schema.ts';
import { Groups } from './groups.ts';
import { Limits } from './limits.ts';
import { Resources } from './resources.ts';
import { Revocations } from './revocations.ts';
import { Roles } from './roles.ts';
import type { FernetKeySource } from './token/fernet.ts';
import { TokenCodec } from './token/token-codec.ts';
import { Tokens } from './tokens.ts';
import { Users } from './users.ts';

export type Identity = {
  resources: Resources;
  users: Users;
  groups: Groups;
  roles: Roles;
  catalog: Catalog;
  revocations: Revocations;
  applicationCredentials: ApplicationCredentials;
  credentials: Credentials;
  limits: Limits;
  tokens: Tokens;
  authenticator: Authenticator;
};

export function createIdentity(
  db: Kysely<IdentityDatabase>,
  keys: FernetKeySource,
  config: IdentityConfig,
  now: () => Date = () => new Date(),
): Identity {
  const revocations = new Revocations(db, {
    now,
    // An event must outlive every token it can match, including allow_expired validation.
    keepSeconds: config.token_expiration + config.allow_expired_window,
  });
  const resources = new Resources(db, revocations);
  const users = new Users(db, revocations, config, now);
  const groups = new Groups(db, revocations);
  const roles = new Roles(db, revocations);
  const catalog = new Catalog(db);
  const applicationCredentials = new ApplicationCredentials(
    db,
    revocations,
    config.password_hash_rounds,
    now,
  );
  const tokens = new Tokens({
    codec: new TokenCodec(keys, { clock: () => now().getTime() }),
    resources,
    users,
    roles,
    catalog,
    revocations,
    applicationCredentials,
    options: {
      lifetimeSeconds: config.token_expiration,
      allowExpiredWindowSeconds: config.allow_expired_window,
      now,
    },
  });
  const credentials = new Credentials(db);
  const limits = new Limits(db, catalog, resources);
  const authenticator = new Authenticator({ users, resources, tokens, applicationCredentials });
  return {
    resources,
    users,
    groups,
    roles,
    catalog,
    revocations,
    applicationCredentials,
    credentials,
    limits,
    tokens,
    authenticator,
  };
}
