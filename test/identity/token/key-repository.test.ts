import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FernetKeyError, InvalidTokenError } from '../../../src/identity/token/errors.ts';
import {
  decrypt,
  encrypt,
  parseFernetKey,
  type FernetKey,
} from '../../../src/identity/token/fernet.ts';
import { FernetKeyRepository } from '../../../src/identity/token/key-repository.ts';

const base = mkdtempSync(join(tmpdir(), 'tstack-fernet-'));
after(() => rmSync(base, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(base, `keys-${dirs++}`);

const files = (dir: string): string[] =>
  readdirSync(dir).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
const keyText = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');
const mode = (path: string): number => statSync(path).mode & 0o777;
const NOW = 1_700_000_000;

/** A token signed by the repository's current primary key (what issue() uses). */
function tokenFrom(repo: FernetKeyRepository): string {
  return encrypt(Buffer.from('hello'), repo.keys()[0] as FernetKey, NOW);
}

function opens(repo: FernetKeyRepository, token: string): boolean {
  try {
    decrypt(token, repo.keys());
    return true;
  } catch (error) {
    if (error instanceof InvalidTokenError && error.reason === 'signature') return false;
    throw error;
  }
}

describe('FernetKeyRepository: setup', () => {
  it('creates the directory (0700) with keys 0 and 1 (0600), 1 primary', () => {
    const dir = freshDir();
    const repo = new FernetKeyRepository(dir);
    repo.setup();
    assert.deepEqual(files(dir), ['0', '1']);
    assert.equal(mode(dir), 0o700);
    for (const name of ['0', '1']) {
      assert.equal(mode(join(dir, name)), 0o600);
      assert.match(keyText(dir, name), /^[A-Za-z0-9_-]{43}=$/);
    }
    assert.notEqual(keyText(dir, '0'), keyText(dir, '1'));
    assert.equal(repo.load().length, 2);
    // The primary (file 1) signs: the token opens with that key alone.
    decrypt(tokenFrom(repo), [parseFernetKey(keyText(dir, '1'))]);
  });

  it('is idempotent', () => {
    const dir = freshDir();
    new FernetKeyRepository(dir).setup();
    const before = files(dir).map((f) => keyText(dir, f));
    new FernetKeyRepository(dir).setup();
    assert.deepEqual(
      files(dir).map((f) => keyText(dir, f)),
      before,
    );
  });

  it('restores a missing staged key without changing the primary', () => {
    const dir = freshDir();
    const repo = new FernetKeyRepository(dir);
    repo.setup();
    repo.rotate();
    const primary = keyText(dir, '2');
    rmSync(join(dir, '0'));
    repo.setup();
    assert.deepEqual(files(dir), ['0', '1', '2']);
    assert.equal(keyText(dir, '2'), primary);
  });
});

describe('FernetKeyRepository: rotation (max 3 active keys)', () => {
  const dir = freshDir();
  const repo = new FernetKeyRepository(dir);
  let firstToken = '';
  let stagedAtSetup = '';
  before(() => {
    repo.setup();
    firstToken = tokenFrom(repo);
    stagedAtSetup = keyText(dir, '0');
  });
  const steps: { files: string[]; purged: number[]; firstTokenOpens: boolean }[] = [
    { files: ['0', '1', '2'], purged: [], firstTokenOpens: true },
    { files: ['0', '2', '3'], purged: [1], firstTokenOpens: false },
    { files: ['0', '3', '4'], purged: [2], firstTokenOpens: false },
    { files: ['0', '4', '5'], purged: [3], firstTokenOpens: false },
  ];
  steps.forEach((step, i) => {
    it(`rotation ${i + 1}: files ${step.files.join(',')}`, () => {
      const staged = keyText(dir, '0');
      const result = repo.rotate(3);
      const primary = Number(step.files.at(-1));
      assert.deepEqual(result, { previousPrimary: primary - 1, primary, purged: step.purged });
      assert.deepEqual(files(dir), step.files, 'no temporary file is left behind');
      assert.equal(keyText(dir, String(primary)), staged, 'the staged key was promoted');
      assert.notEqual(keyText(dir, '0'), staged, 'a new staged key was written');
      for (const name of step.files) assert.equal(mode(join(dir, name)), 0o600);
      // Keystone's order: primary, secondaries newest first, staged last.
      const order = [...step.files.slice(1).reverse(), '0'];
      order.forEach((name, at) => {
        const token = encrypt(Buffer.from('x'), parseFernetKey(keyText(dir, name)), NOW);
        assert.equal(decrypt(token, repo.keys()).keyIndex, at, `key ${name} at position ${at}`);
      });
      decrypt(tokenFrom(repo), [parseFernetKey(keyText(dir, String(primary)))]);
      assert.equal(opens(repo, firstToken), step.firstTokenOpens);
    });
  });

  it('the key staged at setup became primary 2 and was purged at rotation 4', () => {
    const token = encrypt(Buffer.from('x'), parseFernetKey(stagedAtSetup), NOW);
    assert.equal(opens(repo, token), false);
  });
});

describe('FernetKeyRepository: rotation limits', () => {
  const cases: { max: number; rotations: number; files: string[] }[] = [
    { max: 2, rotations: 3, files: ['0', '4'] },
    { max: 4, rotations: 4, files: ['0', '3', '4', '5'] },
    { max: 10, rotations: 2, files: ['0', '1', '2', '3'] },
  ];
  for (const c of cases) {
    it(`max ${c.max}, ${c.rotations} rotations: ${c.files.join(',')}`, () => {
      const dir = freshDir();
      const repo = new FernetKeyRepository(dir);
      repo.setup();
      for (let i = 0; i < c.rotations; i++) repo.rotate(c.max);
      assert.deepEqual(files(dir), c.files);
    });
  }
  it('refuses max below 2', () => {
    const repo = new FernetKeyRepository(freshDir());
    repo.setup();
    assert.throws(() => repo.rotate(1), RangeError);
  });
  it('refuses to rotate a repository that was never set up', () => {
    assert.throws(() => new FernetKeyRepository(freshDir()).rotate(), FernetKeyError);
  });
});

describe('FernetKeyRepository: loading and reloading', () => {
  it('sees a rotation made by another process within the reload interval', () => {
    const dir = freshDir();
    let clock = 0;
    const reader = new FernetKeyRepository(dir, { clock: () => clock });
    const writer = new FernetKeyRepository(dir);
    writer.setup();
    const before = reader.keys();
    writer.rotate();
    writer.rotate();
    const fromNewPrimary = tokenFrom(writer);
    clock = 999;
    assert.equal(reader.keys(), before, 'no re-read inside the interval');
    assert.equal(opens(reader, fromNewPrimary), false);
    clock = 1000;
    assert.equal(reader.keys().length, 3);
    assert.equal(opens(reader, fromNewPrimary), true);
    clock = 2000;
    const same = reader.keys();
    clock = 3000;
    assert.equal(reader.keys(), same, 'unchanged keys are not parsed again');
  });

  it('keeps its keys and reports when a reload fails', () => {
    const dir = freshDir();
    let clock = 0;
    const errors: FernetKeyError[] = [];
    const repo = new FernetKeyRepository(dir, {
      clock: () => clock,
      onReloadError: (e) => errors.push(e),
    });
    repo.setup();
    const before = repo.keys();
    writeFileSync(join(dir, '7'), 'not a key');
    clock = 5000;
    assert.equal(repo.keys(), before);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /Key file 7/);
    assert.throws(() => repo.load(), FernetKeyError);
  });

  it('skips empty and non-numeric files and accepts a trailing newline', () => {
    const dir = freshDir();
    const repo = new FernetKeyRepository(dir);
    repo.setup();
    const primary = keyText(dir, '1');
    writeFileSync(join(dir, '5'), '');
    writeFileSync(join(dir, '0.tmp'), 'junk');
    writeFileSync(join(dir, 'README'), 'junk');
    writeFileSync(join(dir, '1'), `${primary}\n`);
    assert.equal(repo.load().length, 2);
    decrypt(tokenFrom(repo), [parseFernetKey(primary)]);
  });

  it('fails to load a missing directory with a FernetKeyError', () => {
    assert.throws(() => new FernetKeyRepository(freshDir()).keys(), FernetKeyError);
  });
});
