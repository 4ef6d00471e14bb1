/**
 * The one configuration schema of tstack, with defaults and help text. `load.ts` fills it from
 * a YAML file and `TSTACK_*` environment variables and validates it once, in `src/cli`.
 */
import Type from 'typebox';
import type { Static, TObject, TProperties } from 'typebox';

/** Every service tstack runs, in start order (identity first: the others register with it). */
export const SERVICE_NAMES = [
  'identity',
  'placement',
  'image',
  'network',
  'volume',
  'compute',
  'object',
  'orchestration',
  'telemetry',
  'dashboard',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = {
  identity: 5000,
  placement: 8778,
  image: 9292,
  network: 9696,
  volume: 8776,
  compute: 8774,
  object: 8080,
  orchestration: 8004,
  telemetry: 8041,
  dashboard: 8000,
};

const Port = (port: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 65535, default: port, description });

const ServiceSection = (name: ServiceName) =>
  Type.Object(
    {
      enabled: Type.Boolean({ default: true, description: `Run the ${name} service.` }),
      port: Port(DEFAULT_PORTS[name], `TCP port the ${name} API listens on.`),
      database_url: Type.Optional(
        Type.String({
          minLength: 1,
          description: `Database of the ${name} service; overrides database.url.`,
        }),
      ),
    },
    { additionalProperties: false, default: {} },
  );

const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((l) => Type.Literal(l)),
  { default: 'info', description: 'Lowest level written to the log.' },
);

export const ConfigSchema = Type.Object(
  {
    data_dir: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Directory holding all state (databases, images, logs, keys). ' +
          'Default: $XDG_DATA_HOME/tstack, else ~/.local/share/tstack.',
      }),
    ),
    bind_host: Type.String({
      minLength: 1,
      default: '127.0.0.1',
      description: 'Address every API listens on.',
    }),
    public_host: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Host name or address put in catalog URLs; default: bind_host.',
      }),
    ),
    identity_url: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Identity's public URL other services validate tokens against (…/v3); default: this " +
          "configuration's own identity endpoint.",
      }),
    ),
    log: Type.Object(
      {
        level: LogLevel,
        file: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              "Log file ('-' for standard output). Default: <data_dir>/logs/tstack.log for " +
              "'tstack up', standard output for 'tstack serve'.",
          }),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    http: Type.Object(
      {
        body_limit: Type.Integer({
          minimum: 1024,
          default: 1048576,
          description: 'Largest JSON request body in bytes; bigger ones get a 413.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    database: Type.Object(
      {
        url: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'Database URL for every service (sqlite:///path, postgresql://…, mysql://…); ' +
              "'{service}' in it is replaced by the service name. Default: one SQLite file per " +
              'service in <data_dir>.',
          }),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    messaging: Type.Object(
      {
        url: Type.String({
          minLength: 1,
          default: 'memory://',
          description: "Message bus: 'memory://' (in-process) or amqp://user:pass@host:5672/vhost.",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    services: Type.Object(
      Object.fromEntries(SERVICE_NAMES.map((n) => [n, ServiceSection(n)])) as {
        [K in ServiceName]: ReturnType<typeof ServiceSection>;
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/**
 * The schema with service-specific sections added at the top level (`identity:` …). Services
 * own their section's schema; the composition root (`src/cli`) puts them together.
 */
export function withSections<P extends TProperties>(
  sections: P,
): TObject<typeof ConfigSchema.properties & P> {
  return Type.Object({ ...ConfigSchema.properties, ...sections }, { additionalProperties: false });
}
