/**
 * The shared parts the composition root opens before any service: the message bus chosen by
 * `messaging.url` and one database per service chosen by `database.url` (or the service's own
 * `database_url`). Each failure is a one-line `StartupError` that says what to fix.
 */
import { join } from 'node:path';
import type { ResolvedConfig } from '../common/config/load.ts';
import type { ServiceName } from '../common/config/schema.ts';
import { openDatabase, type DatabaseHandle } from '../common/db/database.ts';
import { migrate, type Migration } from '../common/db/migrate.ts';
import { StartupError } from '../common/errors.ts';
import type { Logger } from '../common/logging.ts';
import type { MessageBus } from '../common/messaging/bus.ts';
import { InMemoryBus } from '../common/messaging/in-memory-bus.ts';
import { RabbitMqBus } from '../common/messaging/rabbitmq-bus.ts';

/** `memory://` is the in-process bus of `tstack up`; `amqp://` and `amqps://` are RabbitMQ. */
export async function openBus(url: string, logger: Logger): Promise<MessageBus> {
  const busLogger = logger.child({ component: 'messaging' });
  if (url === 'memory://' || url === 'memory:') return new InMemoryBus({ logger: busLogger });
  if (/^amqps?:\/\//.test(url)) {
    const bus = new RabbitMqBus(url, { logger: busLogger });
    await bus.connect();
    return bus;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new StartupError(
    `messaging.url has an unknown scheme${scheme === undefined ? '' : ` '${scheme}'`}; use memory:// or amqp://user:password@host:5672/vhost`,
  );
}

/**
 * The database URL of one service: its own `database_url`, else `database.url` with `{service}`
 * replaced, else a SQLite file in the data directory.
 */
export function databaseUrlFor(
  config: ResolvedConfig,
  service: ServiceName,
): { url: string; setting: string } {
  const own = config.services[service].database_url;
  if (own !== undefined) return { url: own, setting: `services.${service}.database_url` };
  if (config.database.url !== undefined) {
    return { url: config.database.url.replaceAll('{service}', service), setting: 'database.url' };
  }
  // SQLAlchemy's form for an absolute path: three slashes, then the path's own leading slash.
  return { url: `sqlite:///${join(config.data_dir, `${service}.db`)}`, setting: 'database.url' };
}

/** Opens a service's database and brings its schema up to date. */
export async function openServiceDatabase(
  config: ResolvedConfig,
  service: ServiceName,
  migrations: readonly Migration[],
  logger: Logger,
): Promise<DatabaseHandle<unknown>> {
  const { url, setting } = databaseUrlFor(config, service);
  const handle = await openDatabase<unknown>(url, {
    setting,
    onIdleError: (err) => logger.warn({ err, service }, 'database connection lost while idle'),
  });
  try {
    const result = await migrate(handle, service, migrations);
    if (result.applied.length > 0)
      logger.info({ service, from: result.from, to: result.to }, 'database migrated');
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}
