/**
 * The `tstack` command: `up` (the all-in-one cloud), `serve <service>` (one service per process),
 * and operator verbs as they arrive. This is the composition root: the only place that chooses
 * real or fake parts and wires services together.
 */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ResolvedConfig } from '../common/config/load.ts';
import { SERVICE_NAMES, type ServiceName } from '../common/config/schema.ts';
import { StartupError } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/logging.ts';
import { startCloud, type RunningCloud } from './runner.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

type CommonFlags = { config?: string; dataDir?: string; bindHost?: string };

function configFrom(flags: CommonFlags): ResolvedConfig {
  const overrides: Record<string, unknown> = {};
  if (flags.dataDir !== undefined) overrides['data_dir'] = flags.dataDir;
  if (flags.bindHost !== undefined) overrides['bind_host'] = flags.bindHost;
  return loadConfig({ file: flags.config, overrides });
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
    .action(async (flags: CommonFlags) => {
      const config = configFrom(flags);
      const logFile = config.log.file ?? join(config.data_dir, 'logs', 'tstack.log');
      const logger = createLogger({ level: config.log.level, destination: logFile });
      const say = (line: string): void => void process.stdout.write(`${line}\n`);
      say(`tstack ${pkg.version}: data in ${config.data_dir}, log in ${logFile}`);
      const services = SERVICE_NAMES.filter((n) => config.services[n].enabled);
      const cloud = await startCloud({ config, services, logger });
      say('listening:');
      printEndpoints(cloud, say);
      say('ready. Ctrl-C stops the cloud.');
      runUntilSignal(cloud, logger, say);
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
      printEndpoints(cloud, say);
      runUntilSignal(cloud, logger, say);
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
