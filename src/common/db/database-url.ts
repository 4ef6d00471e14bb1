/**
 * Parsing of `database.url`. The syntax follows SQLAlchemy, which oslo.db (and so every OpenStack
 * operator) already uses, so a URL pasted from a `nova.conf` works:
 *
 * - `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite://` or
 *   `sqlite:///:memory:` (in memory);
 * - `postgresql://user:password@host:5432/db` (also `postgres://`, `postgresql+psycopg2://`),
 *   with `?host=/run/postgresql` for a UNIX socket and `?sslmode=`;
 * - `mysql://user:password@host:3306/db` (also `mariadb://`, `mysql+pymysql://`), with
 *   `?unix_socket=/run/mysqld/mysqld.sock` and a `?charset=utf8` that is accepted and ignored
 *   (connections always use utf8mb4).
 *
 * Every error is a `StartupError` naming what is wrong; no message ever contains the password.
 */

import { StartupError } from '../errors.ts';

export type DialectName = 'sqlite' | 'postgres' | 'mysql';

export interface SqliteUrl {
  readonly dialect: 'sqlite';
  /** A file path as written in the URL (relative to the working directory), or `:memory:`. */
  readonly path: string;
}

export type PostgresSslMode = 'disable' | 'require' | 'verify-full';

export interface ServerUrl {
  readonly dialect: 'postgres' | 'mysql';
  readonly host: string | undefined;
  readonly port: number | undefined;
  /** A UNIX socket: the directory for PostgreSQL, the socket file for MariaDB. */
  readonly socket: string | undefined;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly database: string | undefined;
  /** PostgreSQL only; `undefined` means the driver's default (no TLS). */
  readonly sslmode: PostgresSslMode | undefined;
}

export type DatabaseUrl = SqliteUrl | ServerUrl;

const SCHEMES: Readonly<Record<string, DialectName>> = {
  sqlite: 'sqlite',
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
};

const NO_HOST = 'no-host.invalid';

const SSL_MODES: readonly PostgresSslMode[] = ['disable', 'require', 'verify-full'];

const PARAMETERS: Readonly<Record<'postgres' | 'mysql', readonly string[]>> = {
  postgres: ['host', 'sslmode'],
  mysql: ['unix_socket', 'charset'],
};

/**
 * Parses a database URL.
 * @throws StartupError naming the part of the URL that is wrong.
 */
export function parseDatabaseUrl(url: string, setting = 'database.url'): DatabaseUrl {
  const match = /^([a-z][a-z0-9]*)(?:\+[a-z0-9_]+)?:/i.exec(url);
  const dialect = match === null ? undefined : SCHEMES[(match[1] ?? '').toLowerCase()];
  if (match === null || dialect === undefined) {
    const shown = match === null ? 'it has no scheme' : `unknown scheme '${match[1] ?? ''}'`;
    throw new StartupError(
      `${setting} is not a database URL (${shown}); use sqlite:///path.db, ` +
        `postgresql://user@host:5432/db or mysql://user@host:3306/db`,
    );
  }
  if (!url.startsWith('//', match[0].length)) {
    throw new StartupError(
      `${setting}: '${match[0]}' must be followed by '//' (e.g. ${match[0]}//host/db)`,
    );
  }
  const rest = url.slice(match[0].length + 2);
  return dialect === 'sqlite' ? parseSqlite(rest, setting) : parseServer(url, dialect, setting);
}

function parseSqlite(rest: string, setting: string): SqliteUrl {
  // SQLAlchemy: the host part is empty, so the path starts after the third slash.
  if (rest === '' || rest === '/:memory:') return { dialect: 'sqlite', path: ':memory:' };
  if (!rest.startsWith('/')) {
    throw new StartupError(
      `${setting}: a sqlite URL has no host; write sqlite:///relative.db or sqlite:////absolute.db`,
    );
  }
  const path = rest.slice(1);
  if (path.includes('?')) {
    throw new StartupError(
      `${setting}: a sqlite URL takes no parameters ('?${path.split('?')[1] ?? ''}')`,
    );
  }
  if (path === '' || path.endsWith('/')) {
    throw new StartupError(
      `${setting}: the sqlite URL names no file; write sqlite:///path/to/file.db`,
    );
  }
  return { dialect: 'sqlite', path };
}

function parseServer(url: string, dialect: 'postgres' | 'mysql', setting: string): ServerUrl {
  let parsed: URL;
  try {
    // WHATWG URL parsing needs a scheme it knows nothing special about, and rejects user@ with
    // no host (a UNIX socket URL), so such a URL gets a placeholder host that is removed below.
    parsed = new URL(
      url.replace(/^[^:]+:/, 'db:').replace(/^(db:\/\/[^/?#]*@)(?=[/?#]|$)/, `$1${NO_HOST}`),
    );
  } catch {
    throw new StartupError(`${setting} is not a valid URL: ${redactDatabaseUrl(url)}`);
  }
  let port: number | undefined;
  if (parsed.port !== '') {
    port = Number(parsed.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new StartupError(`${setting}: port ${parsed.port} is not between 1 and 65535`);
    }
  }
  const path = decode(parsed.pathname.replace(/^\//, ''), setting);
  if (path.includes('/')) {
    throw new StartupError(`${setting}: the database name '${path}' contains a '/'`);
  }
  let socket: string | undefined;
  let sslmode: PostgresSslMode | undefined;
  for (const [key, value] of parsed.searchParams) {
    if (!PARAMETERS[dialect].includes(key)) {
      throw new StartupError(
        `${setting}: unsupported parameter '${key}' (supported: ${PARAMETERS[dialect].join(', ')})`,
      );
    }
    if (key === 'host' || key === 'unix_socket') socket = value;
    if (key === 'sslmode') {
      if (!(SSL_MODES as readonly string[]).includes(value)) {
        throw new StartupError(
          `${setting}: sslmode must be one of ${SSL_MODES.join(', ')}, not '${value}'`,
        );
      }
      sslmode = value as PostgresSslMode;
    }
    if (key === 'charset' && !/^utf8(mb4)?$/i.test(value)) {
      throw new StartupError(`${setting}: charset must be utf8 or utf8mb4, not '${value}'`);
    }
  }
  const hostname = parsed.hostname === NO_HOST ? '' : parsed.hostname;
  const host = hostname === '' ? undefined : hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === undefined && socket === undefined) {
    throw new StartupError(
      `${setting}: the URL names no host; write ${dialect === 'postgres' ? 'postgresql' : 'mysql'}://user@host/db`,
    );
  }
  return {
    dialect,
    host,
    port,
    socket,
    user: parsed.username === '' ? undefined : decode(parsed.username, setting),
    password: parsed.password === '' ? undefined : decode(parsed.password, setting),
    database: path === '' ? undefined : path,
    sslmode,
  };
}

function decode(part: string, setting: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new StartupError(`${setting}: bad percent-encoding in '${part.replace(/:.*/, ':***')}'`);
  }
}

/**
 * The URL with its password replaced by `***`, safe for logs and error messages. Works on
 * malformed URLs too, since those are the ones that end up in error messages.
 */
export function redactDatabaseUrl(url: string): string {
  const start = url.indexOf('://');
  if (start < 0) return url;
  // The last '@' ends the credentials even when an unencoded '/' or '@' sits in the password.
  const at = url.lastIndexOf('@');
  const colon = url.indexOf(':', start + 3);
  if (at < 0 || colon < 0 || colon > at) return url;
  return `${url.slice(0, colon)}:***${url.slice(at)}`;
}
