import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Type from 'typebox';
import { loadConfig, loadConfigWith } from '../../../src/common/config/load.ts';
import { withSections } from '../../../src/common/config/schema.ts';
import { StartupError } from '../../../src/common/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ts-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function startupError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StartupError, `expected a StartupError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('expected loading to fail');
}

describe('config: defaults, file, environment', () => {
  it('has embedded defaults for everything', () => {
    const c = loadConfig({ env: { HOME: '/home/u' } });
    assert.equal(c.bind_host, '127.0.0.1');
    assert.equal(c.public_host, '127.0.0.1');
    assert.equal(c.data_dir, '/home/u/.local/share/tstack');
    assert.equal(c.messaging.url, 'memory://');
    assert.equal(c.services.identity.port, 5000);
    assert.equal(c.services.compute.port, 8774);
    assert.equal(c.services.compute.enabled, true);
    assert.equal(c.log.level, 'info');
  });

  it('honours XDG_DATA_HOME for the default data directory', () => {
    assert.equal(loadConfig({ env: { XDG_DATA_HOME: '/x/data' } }).data_dir, '/x/data/tstack');
  });

  it('reads a YAML file, and TSTACK_* variables win over it', () => {
    const path = file(
      'a.yaml',
      'bind_host: 127.0.0.2\nservices:\n  compute:\n    port: 18774\n    enabled: false\nlog:\n  level: debug\n',
    );
    const c = loadConfig({
      file: path,
      env: { TSTACK_SERVICES__COMPUTE__PORT: '28774', TSTACK_DATA_DIR: '/srv/ts' },
    });
    assert.equal(c.bind_host, '127.0.0.2');
    assert.equal(c.services.compute.port, 28774);
    assert.equal(c.services.compute.enabled, false);
    assert.equal(c.services.image.port, 9292, 'siblings keep their defaults');
    assert.equal(c.log.level, 'debug');
    assert.equal(c.data_dir, '/srv/ts');
  });

  it('reads the file named by TSTACK_CONFIG', () => {
    const path = file('b.yaml', 'public_host: cloud.example\n');
    assert.equal(loadConfig({ env: { TSTACK_CONFIG: path } }).public_host, 'cloud.example');
  });

  it('converts environment booleans and integers by the schema', () => {
    const c = loadConfig({
      env: { TSTACK_SERVICES__OBJECT__ENABLED: 'no', TSTACK_HTTP__BODY_LIMIT: '4096' },
    });
    assert.equal(c.services.object.enabled, false);
    assert.equal(c.http.body_limit, 4096);
  });

  it('command-line values win over everything', () => {
    const c = loadConfig({ env: { TSTACK_DATA_DIR: '/a' }, overrides: { data_dir: '/b' } });
    assert.equal(c.data_dir, '/b');
  });

  it('leaves TSTACK_TEST_* variables to the tests', () => {
    assert.doesNotThrow(() => loadConfig({ env: { TSTACK_TEST_POSTGRES_URL: 'postgresql://x' } }));
  });
});

describe('config: a bad value stops start-up with one line naming the key', () => {
  const cases: { name: string; file?: string; env?: Record<string, string>; message: RegExp }[] = [
    {
      name: 'port out of range in the file',
      file: 'services:\n  compute:\n    port: 70000\n',
      message:
        /^config key 'services\.compute\.port' \(from config file .*\): expected an integer from 1 to 65535, got 70000$/,
    },
    {
      name: 'port not a number in the environment',
      env: { TSTACK_SERVICES__IDENTITY__PORT: 'five' },
      message:
        /^config key 'services\.identity\.port' \(from TSTACK_SERVICES__IDENTITY__PORT\): expected an integer from 1 to 65535, got "five"$/,
    },
    {
      name: 'unknown key in the file',
      file: 'servics: {}\n',
      message:
        /^unknown config key 'servics' \(from config file .*\); known keys: data_dir, bind_host/,
    },
    {
      name: 'unknown nested key',
      file: 'services:\n  compte:\n    port: 1\n',
      message:
        /unknown config key 'services\.compte'.*known keys under 'services': identity, placement/,
    },
    {
      name: 'unknown variable',
      env: { TSTACK_BIND_HOTS: '0.0.0.0' },
      message: /^unknown config key 'bind_hots' \(from TSTACK_BIND_HOTS\)/,
    },
    {
      name: 'bad enum',
      env: { TSTACK_LOG__LEVEL: 'loud' },
      message: /'log\.level'.*expected one of fatal, error, warn, info, debug, trace, got "loud"/,
    },
    {
      name: 'bad boolean',
      file: 'services:\n  image:\n    enabled: maybe\n',
      message: /'services\.image\.enabled'.*expected true or false, got "maybe"/,
    },
    {
      name: 'a list where a mapping belongs',
      file: 'log: [1, 2]\n',
      message: /'log'.*expected a mapping of keys, got a list/,
    },
    {
      name: 'empty string',
      env: { TSTACK_BIND_HOST: '' },
      message: /'bind_host'.*expected a non-empty string/,
    },
    {
      name: 'invalid YAML',
      file: 'services:\n  compute: [\n',
      message: /is not valid YAML at line \d+/,
    },
    { name: 'a scalar document', file: '42\n', message: /must hold a mapping of keys/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const path =
        c.file === undefined ? undefined : file(`${c.name.replace(/\W+/g, '-')}.yaml`, c.file);
      const message = startupError(() => loadConfig({ file: path, env: c.env ?? {} }));
      assert.match(message, c.message);
    });
  }

  it('a missing file is named', () => {
    const message = startupError(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {} }));
    assert.match(message, /cannot read config file .*nope\.yaml \(ENOENT\)/);
  });
});

describe('config: maps keyed by name (TypeBox Record)', () => {
  const schema = withSections({
    image: Type.Object(
      {
        stores: Type.Record(
          Type.String({ pattern: '^[a-z]+$' }),
          Type.Object({ data_dir: Type.String({ minLength: 1 }) }),
          { default: {} },
        ),
      },
      { default: {} },
    ),
  });

  it('reads each entry and checks it by the entry schema', () => {
    const path = file('stores.yaml', 'image:\n  stores:\n    fast:\n      data_dir: /srv/fast\n');
    const config = loadConfigWith(schema, { file: path, env: {} });
    assert.deepEqual(config.image.stores, { fast: { data_dir: '/srv/fast' } });
    assert.deepEqual(loadConfigWith(schema, { env: {} }).image.stores, {});
  });

  it('names a key that breaks the pattern, and a bad entry', () => {
    const bad = file('bad-store.yaml', 'image:\n  stores:\n    Fast:\n      data_dir: /srv\n');
    assert.match(
      startupError(() => loadConfigWith(schema, { file: bad, env: {} })),
      /config key 'image\.stores\.Fast' \(from config file .*\): the name must match/,
    );
    const empty = file('empty-store.yaml', "image:\n  stores:\n    fast:\n      data_dir: ''\n");
    assert.match(
      startupError(() => loadConfigWith(schema, { file: empty, env: {} })),
      /config key 'image\.stores\.fast\.data_dir'/,
    );
  });
});
