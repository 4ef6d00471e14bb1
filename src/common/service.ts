/**
 * What every service hands to the composition root (`src/cli`): its HTTP app and its schema
 * migrations. The root opens the database and the bus, runs the migrations, listens, and closes
 * everything on shutdown.
 */
import type { ResolvedConfig } from './config/load.ts';
import type { ServiceName } from './config/schema.ts';
import type { App } from './http/app.ts';
import type { Logger } from './logging.ts';

export type ServiceContext = {
  config: ResolvedConfig;
  logger: Logger;
};

export interface Service {
  readonly name: ServiceName;
  readonly app: App;
  /** Releases what the service holds beyond its app (timers, agents); idempotent. */
  close(): Promise<void>;
}

export type ServiceFactory = (ctx: ServiceContext) => Service | Promise<Service>;
