/**
 * The `tstack` command: `up` (the all-in-one cloud), `serve <service>` (one service per process),
 * and operator verbs as they arrive. This is the composition root: the only place that chooses
 * real or fake parts and wires services together.
 */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NAMES, type ServiceName } from '../common/config/schema.ts';
import { StartupError, messageOf } from '../common/errors.ts';
import { createLogger, silentLogger, type Logger } from '../common/logging.ts';
import { buildTestImage } from '../compute/service.ts';
import { isIdentityService, rotateKeys } from '../identity/service.ts';
import { catalogRegistrations } from './catalog.ts';
import { CLOUD_NAME, exportLines, writeCloudsYaml } from './clouds.ts';
import { loadTstackConfig, type TstackConfig } from './config.ts';
import { startCloud, type RunningCloud } from './runner.ts';
import { ensureDefaultNetwork } from './default-network.ts';
import { ensureTestImage, testImageCache } from './test-image.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

type CommonFlags = { config?: string; dataDir?: string; bindHost?: string };

function configFrom(flags: CommonFlags): TstackConfig {
  const overrides: Record<string, unknown> = {};
  if (flags.dataDir !== undefined) overrides['data_dir'] = flags.dataDir;
  if (flags.bindHost !== undefined) overrides['bind_host'] = flags.bindHost;
  return loadTstackConfig({ file: flags.config, overrides });
}

function withCommonFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('-c, --config <file>', 'YAML config file').env('TSTACK_CONFIG'))
    .option(
      '-d, --data-dir <dir>',
      'directory for all state (default: $TSTACK_DATA_DIR, else ~/.local/share/tstack)',
    )
    .option('--bind-host <address>', 'address the APIs listen on (default 127.0.0.1)');
}

/** Runs until SIGINT or SIGTERM, then stops cleanly; a second signal exits at once. */
function runUntilSignal(cloud: RunningCloud, logger: Logger, say: (line: string) => void): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.exit(130);
    }
    stopping = true;
    say(`\n${signal}: stopping…`);
    logger.info({ signal }, 'stopping');
    cloud.stop().then(
      () => {
        say('stopped.');
        logger.flush(() => process.exit(0));
      },
      (err: unknown) => {
        console.error('tstack: error while stopping:', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function printEndpoints(cloud: RunningCloud, say: (line: string) => void): void {
  const width = Math.max(...cloud.endpoints.map((e) => e.service.length));
  for (const e of cloud.endpoints) say(`  ${e.service.padEnd(width)}  ${e.url}`);
}

export function buildProgram(): Command {
  const program = new Command('tstack')
    .description('An OpenStack-compatible cloud in one command.')
    .version(pkg.version)
    .showHelpAfterError();

  withCommonFlags(program.command('up'))
    .description('run the all-in-one cloud: every enabled service in this process')
    .option(
      '--fake-hosts <n>',
      'fake hypervisors to run besides the QEMU ones (compute.fake_hosts, default 0)',
    )
    .action(async (flags: CommonFlags & { fakeHosts?: string }) => {
      const config = configFrom(flags);
      if (flags.fakeHosts !== undefined) {
        const n = Number(flags.fakeHosts);
        if (!Number.isInteger(n) || n < 0 || n > 10_000)
          throw new StartupError('--fake-hosts must be an integer from 0 to 10000');
        config.compute.fake_hosts = n;
      }
      const logFile = config.log.file ?? join(config.data_dir, 'logs', 'tstack.log');
      const logger = createLogger({ level: config.log.level, destination: logFile });
      const say = (line: string): void => void process.stdout.write(`${line}\n`);
      say(`tstack ${pkg.version}: data in ${config.data_dir}, log in ${logFile}`);
      const services = SERVICE_NAMES.filter((n) => config.services[n].enabled);
      const cloud = await startCloud({ config, services, logger });
      runUntilSignal(cloud, logger, say);
      say('listening:');
      printEndpoints(cloud, say);
      const identity = cloud.services.find(isIdentityService);
      if (identity) {
        const result = await identity
          .bootstrap({ services: catalogRegistrations(config, services) })
          .catch(async (err: unknown) => {
            await cloud.stop();
            throw err;
          });
        for (const change of result.changes) logger.info({ change }, 'bootstrap');
        if (services.includes('image') && config.image.test_image) {
          say(
            `  ${await ensureTestImage(config, logger).catch(async (err: unknown) => {
              await cloud.stop();
              throw new StartupError(`cannot register the test image: ${messageOf(err)}`);
            })}`,
          );
        }
        if (services.includes('network') && services.includes('compute')) {
          say(
            `  ${await ensureDefaultNetwork(config, logger).catch(async (err: unknown) => {
              await cloud.stop();
              throw new StartupError(`cannot make the default network: ${messageOf(err)}`);
            })}`,
          );
        }
        const clouds = writeCloudsYaml(config);
        say(`clients: OS_CLIENT_CONFIG_FILE=${clouds} OS_CLOUD=${CLOUD_NAME} openstack …, or:`);
        for (const line of exportLines(config)) say(`  ${line}`);
      }
      say('ready. Ctrl-C stops the cloud.');
    });

  withCommonFlags(program.command('serve'))
    .description(
      'run one service in this process (scale-out: one per process, any number of hosts)',
    )
    .argument('<service>', `one of: ${SERVICE_NAMES.join(', ')}`)
    .action(async (name: string, flags: CommonFlags) => {
      if (!(SERVICE_NAMES as readonly string[]).includes(name)) {
        throw new StartupError(
          `unknown service '${name}'; choose one of: ${SERVICE_NAMES.join(', ')}`,
        );
      }
      const config = configFrom(flags);
      const logger = createLogger({ level: config.log.level, destination: config.log.file ?? '-' });
      const say = (line: string): void => void process.stderr.write(`${line}\n`);
      const cloud = await startCloud({ config, services: [name as ServiceName], logger });
      // Stopping is set up before the endpoints are announced: whoever waits for them may stop
      // the process at once.
      runUntilSignal(cloud, logger, say);
      printEndpoints(cloud, say);
    });

  withCommonFlags(program.command('bootstrap'))
    .description(
      'create the default domain, roles, admin and service users and the catalog (idempotent)',
    )
    .action(async (flags: CommonFlags) => {
      const config = configFrom(flags);
      const services = SERVICE_NAMES.filter((n) => config.services[n].enabled);
      const cloud = await startCloud({
        config,
        services: ['identity'],
        logger: silentLogger(),
        listen: false,
      });
      try {
        const identity = cloud.services.find(isIdentityService);
        if (!identity) throw new StartupError('the identity service could not be started');
        const result = await identity.bootstrap({
          services: catalogRegistrations(config, services),
        });
        const lines =
          result.changes.length === 0 ? ['nothing to do: already bootstrapped'] : result.changes;
        for (const line of lines) process.stdout.write(`${line}\n`);
        process.stdout.write(`wrote ${writeCloudsYaml(config)}\n`);
      } finally {
        await cloud.stop();
      }
    });

  const identityCmd = program.command('identity').description('identity operator tasks');
  withCommonFlags(identityCmd.command('rotate-keys'))
    .description('rotate the Fernet token keys (the staged key becomes primary)')
    .option('--max-active-keys <n>', 'keys kept, staged and primary included', '3')
    .action((flags: CommonFlags & { maxActiveKeys: string }) => {
      const config = configFrom(flags);
      const max = Number(flags.maxActiveKeys);
      if (!Number.isInteger(max) || max < 2)
        throw new StartupError('--max-active-keys must be an integer of at least 2');
      const result = rotateKeys(config.data_dir, max);
      process.stdout.write(
        `primary key is now ${result.primary} (was ${result.previousPrimary})` +
          (result.purged.length > 0 ? `; removed ${result.purged.join(', ')}` : '') +
          '\n',
      );
    });

  const imageCmd = program.command('image').description('guest images');
  withCommonFlags(imageCmd.command('build-test'))
    .description(
      'build the test guest image (Debian cloud kernel and busybox, from apt) into the guest ' +
        'image cache (image.test_image_cache), unless it is there; prints its path',
    )
    .action(async (flags: CommonFlags) => {
      const config = configFrom(flags);
      try {
        const built = await buildTestImage({ cacheDir: testImageCache(config) });
        process.stdout.write(`${built.path}${built.cached ? ' (already built)' : ''}\n`);
      } catch (err) {
        throw new StartupError(`cannot build the test image: ${messageOf(err)}`, { cause: err });
      }
    });

  const configCmd = program.command('config').description('inspect the configuration');
  withCommonFlags(configCmd.command('show'))
    .description(
      'print the effective configuration (defaults, file and TSTACK_* variables) as JSON',
    )
    .action((flags: CommonFlags) => {
      process.stdout.write(`${JSON.stringify(configFrom(flags), null, 2)}\n`);
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`tstack: ${err.message}\n`);
      // No process.exit(): the log stream may still be opening; everything else is closed.
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

await main(process.argv);
