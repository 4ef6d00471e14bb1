/**
 * Starts a set of services in this process and stops them again. `tstack up` starts them all;
 * `tstack serve <name>` starts one. Whatever fails at start-up becomes one `StartupError` line,
 * and anything already started is closed before it is reported.
 */
import { mkdirSync } from 'node:fs';
import type { ServiceName } from '../common/config/schema.ts';
import { StartupError, messageOf } from '../common/errors.ts';
import type { Logger } from '../common/logging.ts';
import type { DatabaseHandle } from '../common/db/database.ts';
import type { MessageBus } from '../common/messaging/bus.ts';
import type { Service } from '../common/service.ts';
import { serviceAuthFactory } from './auth.ts';
import { urlHost } from './clouds.ts';
import { openBus, openServiceDatabase } from './infrastructure.ts';
import type { TstackConfig } from './config.ts';
import { ENDPOINT_PATHS, serviceDefinitions } from './services.ts';

export type Endpoint = { service: ServiceName; url: string };

export type RunningCloud = {
  readonly endpoints: readonly Endpoint[];
  readonly services: readonly Service[];
  /** Closes listeners, services, databases and the bus; safe to call twice. */
  stop(): Promise<void>;
};

export type StartOptions = {
  config: TstackConfig;
  services: readonly ServiceName[];
  logger: Logger;
  /** False for operator verbs that need the services but no listener (bootstrap). */
  listen?: boolean;
};

export async function startCloud(options: StartOptions): Promise<RunningCloud> {
  const { config, logger } = options;
  mkdirSync(config.data_dir, { recursive: true });
  const started: Service[] = [];
  const databases: DatabaseHandle<unknown>[] = [];
  let bus: MessageBus | undefined;
  const endpoints: Endpoint[] = [];
  let stopping: Promise<void> | undefined;
  const quietly = (what: string) => (err: unknown) => logger.warn({ err }, `closing ${what}`);
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Reverse order: identity, which the others call, goes last; the databases and the bus
      // after every service, so requests in flight can finish with them.
      for (const service of [...started].reverse()) {
        await service.app.close().catch(quietly(service.name));
        await service.close().catch(quietly(service.name));
      }
      for (const db of databases) await db.close().catch(quietly(db.url));
      await bus?.close().catch(quietly('message bus'));
    })();
    return stopping;
  };
  const definitions = serviceDefinitions(config);
  const authFor = serviceAuthFactory(config);
  try {
    bus = await openBus(config.messaging.url, logger);
    for (const name of options.services) {
      const section = config.services[name];
      const definition = definitions[name];
      const database = await openServiceDatabase(config, name, definition.migrations, logger);
      databases.push(database);
      const service = await definition.create({
        config,
        logger,
        database,
        bus,
        auth: authFor(name),
      });
      started.push(service);
      if (options.listen === false) {
        await service.app.ready();
        continue;
      }
      await listen(service, config.bind_host, section.port);
      endpoints.push({
        service: name,
        url: `http://${urlHost(config.public_host)}:${section.port}${ENDPOINT_PATHS[name]}`,
      });
      logger.info({ service: name, host: config.bind_host, port: section.port }, 'listening');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoints, services: started, stop };
}

async function listen(service: Service, host: string, port: number): Promise<void> {
  try {
    await service.app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const key = `services.${service.name}.port`;
    const env = `TSTACK_SERVICES__${service.name.toUpperCase()}__PORT`;
    if (code === 'EADDRINUSE') {
      throw new StartupError(
        `port ${port} on ${host} is already in use (${service.name}); stop what holds it or set ${key} (${env})`,
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new StartupError(
        `cannot listen on ${host}: no such local address; fix bind_host (TSTACK_BIND_HOST)`,
      );
    }
    if (code === 'EACCES') {
      throw new StartupError(
        `not allowed to listen on port ${port} (${service.name}); choose a port above 1023 with ${key}`,
      );
    }
    throw new StartupError(
      `cannot listen on ${host}:${port} for ${service.name}: ${messageOf(err)}`,
    );
  }
}
