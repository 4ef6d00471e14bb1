import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDatabaseUrl, redactDatabaseUrl } from '../../../src/common/db/database-url.ts';
import type { DatabaseUrl } from '../../../src/common/db/database-url.ts';
import { StartupError } from '../../../src/common/errors.ts';

const server = {
  host: undefined,
  port: undefined,
  socket: undefined,
  user: undefined,
  password: undefined,
  database: undefined,
  sslmode: undefined,
} as const;

describe('parseDatabaseUrl', { timeout: 5000 }, () => {
  const valid: { name: string; url: string; want: DatabaseUrl }[] = [
    {
      name: 'relative sqlite file',
      url: 'sqlite:///data/nova.db',
      want: { dialect: 'sqlite', path: 'data/nova.db' },
    },
    {
      name: 'absolute sqlite file',
      url: 'sqlite:////var/lib/tstack/nova.db',
      want: { dialect: 'sqlite', path: '/var/lib/tstack/nova.db' },
    },
    {
      name: 'sqlite in memory, short',
      url: 'sqlite://',
      want: { dialect: 'sqlite', path: ':memory:' },
    },
    {
      name: 'sqlite in memory, named',
      url: 'sqlite:///:memory:',
      want: { dialect: 'sqlite', path: ':memory:' },
    },
    {
      name: 'postgresql with everything',
      url: 'postgresql://nova:p%40ss@db.example:5433/nova?sslmode=require',
      want: {
        ...server,
        dialect: 'postgres',
        host: 'db.example',
        port: 5433,
        user: 'nova',
        password: 'p@ss',
        database: 'nova',
        sslmode: 'require',
      },
    },
    {
      name: 'postgres scheme without port or password',
      url: 'postgres://postgres@127.0.0.1/nova',
      want: {
        ...server,
        dialect: 'postgres',
        host: '127.0.0.1',
        user: 'postgres',
        database: 'nova',
      },
    },
    {
      name: 'oslo.db psycopg2 prefix',
      url: 'postgresql+psycopg2://nova@10.0.0.5/nova',
      want: { ...server, dialect: 'postgres', host: '10.0.0.5', user: 'nova', database: 'nova' },
    },
    {
      name: 'postgresql over a UNIX socket',
      url: 'postgresql://nova@/nova?host=/run/postgresql',
      want: {
        ...server,
        dialect: 'postgres',
        socket: '/run/postgresql',
        user: 'nova',
        database: 'nova',
      },
    },
    {
      name: 'IPv6 host',
      url: 'postgresql://nova@[::1]:5432/nova',
      want: {
        ...server,
        dialect: 'postgres',
        host: '::1',
        port: 5432,
        user: 'nova',
        database: 'nova',
      },
    },
    {
      name: 'mysql without a database',
      url: 'mysql://root@127.0.0.1:3306/',
      want: { ...server, dialect: 'mysql', host: '127.0.0.1', port: 3306, user: 'root' },
    },
    {
      name: 'oslo.db pymysql prefix with charset',
      url: 'mysql+pymysql://nova:secret@controller/nova?charset=utf8',
      want: {
        ...server,
        dialect: 'mysql',
        host: 'controller',
        user: 'nova',
        password: 'secret',
        database: 'nova',
      },
    },
    {
      name: 'mariadb scheme over a UNIX socket',
      url: 'mariadb://nova@/nova?unix_socket=/run/mysqld/mysqld.sock',
      want: {
        ...server,
        dialect: 'mysql',
        socket: '/run/mysqld/mysqld.sock',
        user: 'nova',
        database: 'nova',
      },
    },
  ];
  for (const { name, url, want } of valid) {
    test(name, () => assert.deepEqual(parseDatabaseUrl(url), want));
  }

  const invalid: { name: string; url: string; message: RegExp }[] = [
    { name: 'empty', url: '', message: /database\.url is not a database URL \(it has no scheme\)/ },
    {
      name: 'unknown scheme',
      url: 'mongodb://localhost/nova',
      message: /unknown scheme 'mongodb'/,
    },
    {
      name: 'scheme without slashes',
      url: 'sqlite:nova.db',
      message: /'sqlite:' must be followed by '\/\/'/,
    },
    {
      name: 'sqlite with a host',
      url: 'sqlite://localhost/nova.db',
      message: /a sqlite URL has no host/,
    },
    { name: 'sqlite directory', url: 'sqlite:///data/', message: /names no file/ },
    { name: 'sqlite parameters', url: 'sqlite:///nova.db?mode=ro', message: /takes no parameters/ },
    {
      name: 'port out of range',
      url: 'postgresql://h:70000/nova',
      message: /not a valid URL|port 70000/,
    },
    { name: 'port not a number', url: 'postgresql://h:abc/nova', message: /is not a valid URL/ },
    { name: 'no host', url: 'postgresql:///nova', message: /names no host/ },
    {
      name: 'unknown parameter',
      url: 'mysql://root@h/nova?plugin=dbcounter',
      message: /unsupported parameter 'plugin' \(supported: unix_socket, charset\)/,
    },
    {
      name: 'bad sslmode',
      url: 'postgresql://h/nova?sslmode=sometimes',
      message: /sslmode must be one of/,
    },
    {
      name: 'latin1 charset',
      url: 'mysql://h/nova?charset=latin1',
      message: /charset must be utf8/,
    },
    { name: 'slash in database name', url: 'mysql://h/a/b', message: /contains a '\/'/ },
  ];
  for (const { name, url, message } of invalid) {
    test(`rejects: ${name}`, () => {
      assert.throws(
        () => parseDatabaseUrl(url),
        (err: unknown) => {
          assert.ok(err instanceof StartupError);
          assert.match(err.message, message);
          assert.doesNotMatch(err.message, /\n/);
          return true;
        },
      );
    });
  }

  test('names the setting it was given', () => {
    assert.throws(
      () => parseDatabaseUrl('x', 'compute.database.url'),
      /^StartupError: compute\.database\.url is/,
    );
  });

  test('never shows the password of an invalid URL', () => {
    assert.throws(
      () => parseDatabaseUrl('postgresql://nova:hunter2@h:99x/nova'),
      (err: unknown) => {
        assert.ok(err instanceof StartupError);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });
});

describe('redactDatabaseUrl', { timeout: 5000 }, () => {
  const cases = [
    { url: 'postgresql://nova:secret@h:5432/nova', want: 'postgresql://nova:***@h:5432/nova' },
    { url: 'mysql+pymysql://nova:s/e@cret@h/nova', want: 'mysql+pymysql://nova:***@h/nova' },
    { url: 'postgresql://nova@h/nova', want: 'postgresql://nova@h/nova' },
    { url: 'sqlite:////var/lib/nova.db', want: 'sqlite:////var/lib/nova.db' },
    { url: 'not a url', want: 'not a url' },
  ];
  for (const { url, want } of cases) {
    test(url, () => assert.equal(redactDatabaseUrl(url), want));
  }
});
