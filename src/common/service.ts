/**
 * What every service hands to the composition root (`src/cli`): its schema migrations and a
 * factory for its HTTP app. The root opens the database and the bus, runs the migrations, builds
 * the service, listens, and closes everything on shutdown.
 */
import type { ResolvedConfig } from './config/load.ts';
import type { ServiceName } from './config/schema.ts';
import type { DatabaseHandle } from './db/database.ts';
import type { Migration } from './db/migrate.ts';
import type { FastifyInstance } from 'fastify';
import type { App } from './http/app.ts';
import type { Logger } from './logging.ts';
import type { MessageBus } from './messaging/bus.ts';

/** How a service authenticates its callers and itself (built by the composition root). */
export type ServiceAuth = {
  /**
   * Requires a valid `X-Auth-Token` on every route of `scope` (an encapsulated plugin) and sets
   * `request.auth`; 401 in the service's error shape otherwise.
   */
  protect(scope: FastifyInstance): void;
  /** A token of the service's own user, for calls to other services. */
  serviceToken(): Promise<string>;
};

export type ServiceContext = {
  config: ResolvedConfig;
  logger: Logger;
  /** The service's own database, migrated to the latest version. */
  database: DatabaseHandle<unknown>;
  /** Shared by every service of the process; the root closes it after them. */
  bus: MessageBus;
  /** Token validation against identity (unused by identity itself, which validates locally). */
  auth: ServiceAuth;
};

export interface Service {
  readonly name: ServiceName;
  readonly app: App;
  /** Releases what the service holds beyond its app (timers, agents); idempotent. */
  close(): Promise<void>;
}

export type ServiceDefinition = {
  readonly migrations: readonly Migration[];
  readonly create: (ctx: ServiceContext) => Service | Promise<Service>;
};
