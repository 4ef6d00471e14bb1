/**
 * A Fernet key repository in Keystone's layout, so `keystone-manage fernet_setup`/`fernet_rotate`
 * repositories and tstack's are interchangeable: a directory of files named by number, each
 * holding one key in the spec's text form.
 *
 * - `0` is the staged key: it validates but never signs, and becomes the next primary. Staging
 *   lets an operator copy a rotated repository to every node: all of them already know the new
 *   primary before any node starts issuing with it.
 * - the highest number is the primary key: it signs new tokens and validates.
 * - the numbers in between are secondary keys: they validate tokens signed before rotations.
 *
 * Processes pick up a rotation made elsewhere within about a second: `keys()` re-reads the
 * directory at most once per reload interval and re-parses only when the key texts changed.
 * Contents, not the directory's mtime, decide: Linux stamps mtimes from a coarse clock, so two
 * changes a few milliseconds apart can leave one mtime and a reader with half a rotation.
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FernetKeyError } from './errors.ts';
import {
  generateFernetKey,
  parseFernetKey,
  type FernetKey,
  type FernetKeySource,
} from './fernet.ts';

export interface FernetKeyRepositoryOptions {
  /** Milliseconds since the epoch; `Date.now` by default. */
  readonly clock?: () => number;
  /** How often `keys()` looks at the directory again; 1000 ms by default. */
  readonly reloadIntervalMs?: number;
  /** Told when a periodic reload fails; the keys loaded before stay in use meanwhile. */
  readonly onReloadError?: (error: FernetKeyError) => void;
}

export interface RotationResult {
  readonly previousPrimary: number;
  readonly primary: number;
  /** Key numbers removed as beyond `maxActiveKeys`, oldest first. */
  readonly purged: readonly number[];
}

const KEY_NAME = /^\d+$/;

function errorCode(error: unknown): unknown {
  return error instanceof Error && 'code' in error ? error.code : undefined;
}

export class FernetKeyRepository implements FernetKeySource {
  readonly directory: string;
  readonly #clock: () => number;
  readonly #interval: number;
  readonly #onReloadError: ((error: FernetKeyError) => void) | undefined;
  #keys: readonly FernetKey[] | undefined;
  #signature = '';
  #checkedAt = 0;

  constructor(directory: string, options: FernetKeyRepositoryOptions = {}) {
    this.directory = directory;
    this.#clock = options.clock ?? Date.now;
    this.#interval = options.reloadIntervalMs ?? 1000;
    this.#onReloadError = options.onReloadError;
  }

  /**
   * Creates the repository like `keystone-manage fernet_setup`: the directory (mode 0700) if
   * missing, then keys `0` (staged) and `1` (primary) if it holds no key. Idempotent; an
   * existing repository that lacks only its staged key gets a new `0` (the primary is kept).
   * @throws FernetKeyError when the directory cannot be created or written.
   */
  setup(): void {
    this.#guard('set up', () => {
      if (mkdirSync(this.directory, { recursive: true, mode: 0o700 }) !== undefined) {
        chmodSync(this.directory, 0o700); // the umask may have removed bits; make it exact
      }
      const numbers = this.#entries().map((entry) => entry.index);
      if (numbers.length === 0) {
        this.#writeKey('0');
        this.rotate();
      } else if (!numbers.includes(0)) {
        this.#writeKey('0');
        this.load();
      }
    });
  }

  /**
   * Keystone's rotation: the staged key `0` becomes the primary under the next number, a new
   * staged `0` is written, and the oldest keys beyond `maxActiveKeys` (counting the staged key)
   * are removed. Not safe against a concurrent rotation of the same directory (neither is
   * Keystone's); rotate from one place, e.g. `tstack identity rotate-keys` in cron.
   * @throws RangeError when maxActiveKeys < 2 (a staged and a primary key are the minimum).
   * @throws FernetKeyError when the repository lacks a staged key or cannot be changed.
   */
  rotate(maxActiveKeys = 3): RotationResult {
    if (!Number.isInteger(maxActiveKeys) || maxActiveKeys < 2) {
      throw new RangeError(`maxActiveKeys must be an integer of at least 2: ${maxActiveKeys}`);
    }
    return this.#guard('rotate', () => {
      const numbers = this.#entries().map((entry) => entry.index);
      if (!numbers.includes(0)) {
        throw new FernetKeyError(`No staged key 0 in ${this.directory}; run the setup first.`);
      }
      const previousPrimary = Math.max(...numbers);
      const primary = previousPrimary + 1;
      // The new staged key is complete on disk before the old one is promoted, so a crash in
      // between leaves a stray temporary file, never a repository without a key.
      const staged = this.#writeTemp(generateFernetKey());
      renameSync(this.#path('0'), this.#path(String(primary)));
      renameSync(staged, this.#path('0'));
      const active = numbers.filter((n) => n !== 0).concat(primary);
      active.sort((a, b) => b - a);
      const purged = active.slice(maxActiveKeys - 1).reverse();
      for (const n of purged) unlinkSync(this.#path(String(n)));
      this.#syncDirectory();
      this.load();
      return { previousPrimary, primary, purged };
    });
  }

  /**
   * Reads the repository now: keys ordered primary first, then secondaries from newest to
   * oldest, the staged key last (Keystone's order). Empty files are skipped, as Keystone does.
   * @throws FernetKeyError when the directory cannot be read or a key file is not a key.
   */
  load(): readonly FernetKey[] {
    return this.#guard('load', () => {
      this.#checkedAt = this.#clock();
      const entries = this.#entries().sort((a, b) => b.index - a.index);
      const signature = entries.map((e) => `${e.index}:${e.text}`).join('\n');
      if (this.#keys !== undefined && signature === this.#signature) return this.#keys;
      const keys = entries.map((entry) => {
        try {
          return parseFernetKey(entry.text);
        } catch (error) {
          throw new FernetKeyError(`Key file ${entry.index} in ${this.directory} is not a key.`, {
            cause: error,
          });
        }
      });
      this.#keys = keys;
      this.#signature = signature;
      return keys;
    });
  }

  /**
   * The current keys, primary first; cheap enough for every request. The first call loads; later
   * calls re-read the directory at most once per reload interval. A failed re-read keeps the
   * previous keys and is reported to `onReloadError`.
   * @throws FernetKeyError only when nothing was ever loaded and loading fails.
   */
  keys(): readonly FernetKey[] {
    if (this.#keys === undefined) return this.load();
    if (this.#clock() - this.#checkedAt >= this.#interval) {
      try {
        this.load();
      } catch (error) {
        this.#checkedAt = this.#clock();
        if (error instanceof FernetKeyError) this.#onReloadError?.(error);
        else throw error;
      }
    }
    return this.#keys;
  }

  #path(name: string): string {
    return join(this.directory, name);
  }

  /** Numbered, non-empty key files; one removed while listing (a rotation) is just skipped. */
  #entries(): { index: number; text: string }[] {
    const entries: { index: number; text: string }[] = [];
    for (const dirent of readdirSync(this.directory, { withFileTypes: true })) {
      if (!dirent.isFile() || !KEY_NAME.test(dirent.name)) continue;
      let text: string;
      try {
        text = readFileSync(this.#path(dirent.name), 'utf8').trim();
      } catch (error) {
        if (errorCode(error) === 'ENOENT') continue;
        throw error;
      }
      if (text.length > 0) entries.push({ index: Number(dirent.name), text });
    }
    return entries;
  }

  /** Writes a key to a temporary file (mode 0600, synced) and returns its path. */
  #writeTemp(key: string): string {
    const temp = this.#path(`.key-${randomBytes(6).toString('hex')}.tmp`);
    const fd = openSync(temp, 'wx', 0o600);
    let written = false;
    try {
      fchmodSync(fd, 0o600); // exact mode whatever the umask
      writeSync(fd, key);
      fsyncSync(fd);
      written = true;
    } finally {
      closeSync(fd);
      if (!written) unlinkSync(temp);
    }
    return temp;
  }

  /** Atomically writes a new key under `name`: readers see no key or the whole key. */
  #writeKey(name: string): void {
    renameSync(this.#writeTemp(generateFernetKey()), this.#path(name));
    this.#syncDirectory();
  }

  /** Makes the renames durable, so a crash cannot bring back a purged or unpromoted key. */
  #syncDirectory(): void {
    const fd = openSync(this.directory, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Runs a file-system step, turning an OS error into a FernetKeyError that says what failed. */
  #guard<T>(action: string, step: () => T): T {
    try {
      return step();
    } catch (error) {
      if (error instanceof FernetKeyError || error instanceof RangeError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new FernetKeyError(`Cannot ${action} the Fernet key repository: ${reason}`, {
        cause: error,
      });
    }
  }
}
