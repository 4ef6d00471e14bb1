/**
 * Loads the configuration: embedded defaults, then a YAML file, then `TSTACK_*` environment
 * variables (nested keys joined by a double underscore: `TSTACK_SERVICES__COMPUTE__PORT`).
 * Anything unknown or of the wrong type stops start-up with one line naming the key, where it
 * came from and what was expected.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { StartupError } from '../errors.ts';
import type { Static, TObject } from 'typebox';
import { ConfigSchema, type Config } from './schema.ts';

/** Variables read by the loader itself or by tests, never config keys. */
const RESERVED_ENV = new Set(['TSTACK_CONFIG']);
const RESERVED_ENV_PREFIXES = ['TSTACK_TEST_'];

export type LoadOptions = {
  /** Path of a YAML config file; default: `$TSTACK_CONFIG`, else none. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags; they win over the file and the environment. */
  overrides?: Record<string, unknown>;
};

export type ResolvedConfig = Config & { data_dir: string; public_host: string };

/**
 * Loads with a schema that extends `ConfigSchema` by service sections (see `withSections`); the
 * result carries their types too.
 */
export function loadConfigWith<S extends TObject>(
  schema: S,
  options: LoadOptions = {},
): Static<S> & ResolvedConfig {
  return resolveDataDir(checkAll(schema, options), options.env ?? process.env) as Static<S> &
    ResolvedConfig;
}

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  /** A map whose keys match one pattern (TypeBox `Record`). */
  patternProperties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
};

type Sources = Map<string, string>;

export function loadConfig(options: LoadOptions = {}): ResolvedConfig {
  return resolveDataDir(checkAll(ConfigSchema, options), options.env ?? process.env);
}

function checkAll(schema: TObject, options: LoadOptions): Config {
  const env = options.env ?? process.env;
  const sources: Sources = new Map();
  const raw: Record<string, unknown> = {};
  const file = options.file ?? env['TSTACK_CONFIG'];
  if (file !== undefined && file !== '') {
    mergeInto(raw, readConfigFile(file), [], sources, `config file ${file}`);
  }
  mergeInto(raw, envToTree(env), [], sources, '');
  if (options.overrides) mergeInto(raw, options.overrides, [], sources, 'command line');
  return checkValue(schema, raw, [], sources) as Config;
}

function resolveDataDir(config: Config, env: NodeJS.ProcessEnv): ResolvedConfig {
  const dataDir = resolve(config.data_dir ?? defaultDataDir(env));
  return { ...config, data_dir: dataDir, public_host: config.public_host ?? config.bind_host };
}

/** `$XDG_DATA_HOME/tstack`, else `~/.local/share/tstack` (the XDG base directory default). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_DATA_HOME'];
  if (xdg !== undefined && xdg !== '') return join(xdg, 'tstack');
  const home = env['HOME'];
  return join(home !== undefined && home !== '' ? home : homedir(), '.local/share/tstack');
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new StartupError(
      `cannot read config file ${file} (${code}); fix the path or unset TSTACK_CONFIG`,
    );
  }
  const doc = parseDocument(text, { prettyErrors: true });
  const first = doc.errors[0];
  if (first) {
    const where = first.linePos ? ` at line ${first.linePos[0].line}` : '';
    throw new StartupError(
      `config file ${file} is not valid YAML${where}: ${first.message.split('\n')[0]}`,
    );
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new StartupError(
      `config file ${file} must hold a mapping of keys, not ${typeName(value)}`,
    );
  }
  return value as Record<string, unknown>;
}

/** `TSTACK_SERVICES__COMPUTE__PORT=1` becomes `{services: {compute: {port: '1'}}}`. */
function envToTree(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const tree: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('TSTACK_') || value === undefined) continue;
    if (RESERVED_ENV.has(name) || RESERVED_ENV_PREFIXES.some((p) => name.startsWith(p))) continue;
    const path = name.slice('TSTACK_'.length).toLowerCase().split('__');
    let node = tree;
    for (const [i, part] of path.entries()) {
      if (i === path.length - 1) {
        node[part] = new EnvValue(name, value);
      } else {
        const next = node[part];
        node = (
          typeof next === 'object' && next !== null && !(next instanceof EnvValue)
            ? next
            : (node[part] = {})
        ) as Record<string, unknown>;
      }
    }
  }
  return tree;
}

/** A string from the environment: converted by the schema, reported with its variable name. */
class EnvValue {
  readonly variable: string;
  readonly text: string;
  constructor(variable: string, text: string) {
    this.variable = variable;
    this.text = text;
  }
}

function mergeInto(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
  path: string[],
  sources: Sources,
  origin: string,
): void {
  for (const [key, value] of Object.entries(source)) {
    const here = [...path, key];
    sources.set(here.join('.'), value instanceof EnvValue ? value.variable : origin);
    if (isPlainObject(value)) {
      // A copy built key by key: structuredClone would turn EnvValue into a plain object.
      const existing = target[key];
      const into: Record<string, unknown> = isPlainObject(existing) ? existing : {};
      target[key] = into;
      mergeInto(into, value, here, sources, origin);
    } else {
      target[key] = value;
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof EnvValue)
  );
}

function checkValue(schema: JsonSchema, value: unknown, path: string[], sources: Sources): unknown {
  if (value === undefined) {
    if (schema.default === undefined) return undefined;
    value = structuredClone(schema.default);
  }
  const fail = (got: string): never => {
    const key = path.join('.');
    const origin = sources.get(key);
    const from = origin === undefined || origin === '' ? '' : ` (from ${origin})`;
    throw new StartupError(`config key '${key}'${from}: expected ${describe(schema)}, got ${got}`);
  };
  if (schema.type === 'object') {
    if (!isPlainObject(value)) return fail(typeName(unwrap(value)));
    if (schema.patternProperties) return checkMap(schema.patternProperties, value, path, sources);
    const props = schema.properties ?? {};
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (!(key in props)) {
        const full = [...path, key].join('.');
        const origin = sources.get(full);
        const from = origin === undefined || origin === '' ? '' : ` (from ${origin})`;
        const known = Object.keys(props).join(', ');
        throw new StartupError(
          `unknown config key '${full}'${from}; known keys${path.length ? ` under '${path.join('.')}'` : ''}: ${known}`,
        );
      }
    }
    for (const [key, child] of Object.entries(props)) {
      const checked = checkValue(child, value[key], [...path, key], sources);
      if (checked !== undefined) out[key] = checked;
    }
    return out;
  }
  const fromEnv = value instanceof EnvValue;
  const v: unknown = unwrap(value);
  if (schema.anyOf) {
    const allowed: unknown[] = schema.anyOf.map((choice) => choice.const);
    if (!allowed.includes(v)) return fail(JSON.stringify(v));
    return v;
  }
  switch (schema.type) {
    case 'integer': {
      const n = fromEnv && typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) return fail(JSON.stringify(v));
      if (
        (schema.minimum !== undefined && n < schema.minimum) ||
        (schema.maximum !== undefined && n > schema.maximum)
      ) {
        return fail(String(n));
      }
      return n;
    }
    case 'boolean': {
      if (typeof v === 'boolean') return v;
      if (fromEnv && typeof v === 'string') {
        const lower = v.trim().toLowerCase();
        if (['true', '1', 'yes', 'on'].includes(lower)) return true;
        if (['false', '0', 'no', 'off'].includes(lower)) return false;
      }
      return fail(JSON.stringify(v));
    }
    case 'string': {
      if (typeof v !== 'string' || v.length < (schema.minLength ?? 0))
        return fail(JSON.stringify(v));
      return v;
    }
    default:
      return v;
  }
}

/** A map (`stores: {fast: {...}}`): every key must match the pattern, every value its schema. */
function checkMap(
  patterns: Record<string, JsonSchema>,
  value: Record<string, unknown>,
  path: string[],
  sources: Sources,
): Record<string, unknown> {
  const [pattern, child] = Object.entries(patterns)[0] ?? ['', {}];
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const full = [...path, key].join('.');
    if (!new RegExp(pattern).test(key)) {
      const origin = sources.get(full);
      const from = origin === undefined || origin === '' ? '' : ` (from ${origin})`;
      throw new StartupError(`config key '${full}'${from}: the name must match ${pattern}`);
    }
    out[key] = checkValue(child, item, [...path, key], sources);
  }
  return out;
}

function unwrap(value: unknown): unknown {
  return value instanceof EnvValue ? value.text : value;
}

function describe(schema: JsonSchema): string {
  if (schema.anyOf) return `one of ${schema.anyOf.map((s) => String(s.const)).join(', ')}`;
  switch (schema.type) {
    case 'integer':
      if (schema.minimum !== undefined && schema.maximum !== undefined) {
        return `an integer from ${schema.minimum} to ${schema.maximum}`;
      }
      return schema.minimum !== undefined
        ? `an integer of at least ${schema.minimum}`
        : 'an integer';
    case 'boolean':
      return 'true or false';
    case 'string':
      return schema.minLength ? 'a non-empty string' : 'a string';
    case 'object':
      return 'a mapping of keys';
    default:
      return String(schema.type);
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}
