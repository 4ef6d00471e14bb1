import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FernetKeyError, InvalidTokenError } from '../../../src/identity/token/errors.ts';
import {
  decodeBase64Url,
  decrypt,
  encrypt,
  generateFernetKey,
  parseFernetKey,
  restorePadding,
} from '../../../src/identity/token/fernet.ts';

/** Vectors: generate/verify/invalid.json from the spec repository (github.com/fernet/spec). */
function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8')) as T;
}
type Generate = { token: string; now: string; iv: number[]; src: string; secret: string };
type Verify = { token: string; now: string; ttl_sec: number; src: string; secret: string };
type Invalid = { desc: string; token: string; now: string; ttl_sec: number; secret: string };
/** Made by Python's cryptography 48 (`Fernet._encrypt_from_parts`), several plaintext sizes. */
type Python = { src_hex: string; iv_hex: string; now: number; secret: string; token: string };

const seconds = (iso: string): number => Date.parse(iso) / 1000;
const unpadded = (token: string): string => token.replace(/=+$/, '');

function rejects(run: () => unknown, reason?: InvalidTokenError['reason']): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InvalidTokenError, `expected InvalidTokenError, got ${error}`);
    if (reason !== undefined) assert.equal(error.reason, reason);
    return true;
  });
}

const SECRET = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const KEY = parseFernetKey(SECRET);
const NOW = 1_700_000_000;

/** A token whose fields are written by hand and signed with the signing half of `secret`. */
function forge(secret: string, version: number, body: Buffer): string {
  const head = Buffer.alloc(25);
  head[0] = version;
  head.writeUInt32BE(NOW, 5);
  const signed = Buffer.concat([head, body]);
  const signing = (decodeBase64Url(secret) as Buffer).subarray(0, 16);
  const mac = createHmac('sha256', signing).update(signed).digest();
  return Buffer.concat([signed, mac]).toString('base64url');
}

describe('fernet: spec vectors', () => {
  for (const v of fixture<Generate[]>('generate.json')) {
    it(`generate: ${v.src} at ${v.now}`, () => {
      const token = encrypt(
        Buffer.from(v.src),
        parseFernetKey(v.secret),
        seconds(v.now),
        Buffer.from(v.iv),
      );
      assert.equal(token, unpadded(v.token));
    });
  }
  for (const v of fixture<Verify[]>('verify.json')) {
    for (const [form, token] of [
      ['padded', v.token],
      ['unpadded', unpadded(v.token)],
    ] as const) {
      it(`verify (${form}): ${v.src}`, () => {
        const out = decrypt(token, [parseFernetKey(v.secret)], {
          now: seconds(v.now),
          ttlSeconds: v.ttl_sec,
        });
        assert.equal(out.plaintext.toString(), v.src);
        assert.equal(out.keyIndex, 0);
      });
    }
  }
  for (const v of fixture<Invalid[]>('invalid.json')) {
    it(`invalid: ${v.desc}`, () => {
      rejects(() =>
        decrypt(v.token, [parseFernetKey(v.secret)], {
          now: seconds(v.now),
          ttlSeconds: v.ttl_sec,
        }),
      );
    });
  }
});

describe('fernet: interop with Python cryptography', () => {
  for (const v of fixture<Python[]>('python-cryptography.json')) {
    const src = Buffer.from(v.src_hex, 'hex');
    it(`${src.length}-byte plaintext: same token, and it opens`, () => {
      const key = parseFernetKey(v.secret);
      assert.equal(encrypt(src, key, v.now, Buffer.from(v.iv_hex, 'hex')), unpadded(v.token));
      const out = decrypt(v.token, [key], { now: v.now });
      assert.deepEqual(out.plaintext, src);
      assert.equal(out.timestamp, v.now);
    });
  }
});

describe('fernet: round trip', () => {
  for (const size of [0, 1, 15, 16, 17, 64, 1000]) {
    it(`${size} bytes`, () => {
      const plaintext = Buffer.alloc(size, 0xa5);
      const token = encrypt(plaintext, KEY, NOW + 0.9);
      assert.ok(!token.includes('='), 'no padding on output');
      const out = decrypt(token, [KEY], { now: NOW });
      assert.deepEqual(out.plaintext, plaintext);
      assert.equal(out.timestamp, NOW, 'whole seconds');
      assert.deepEqual(decrypt(restorePadding(token), [KEY]).plaintext, plaintext);
    });
  }
  it('random IVs make distinct tokens for one plaintext', () => {
    assert.notEqual(encrypt(Buffer.from('x'), KEY, NOW), encrypt(Buffer.from('x'), KEY, NOW));
  });
});

describe('fernet: keys', () => {
  const other = parseFernetKey(generateFernetKey());
  const third = parseFernetKey(generateFernetKey());
  const token = encrypt(Buffer.from('payload'), other, NOW);
  const cases: { name: string; keys: (typeof KEY)[]; index?: number }[] = [
    { name: 'only the key', keys: [other], index: 0 },
    { name: 'key second in the list', keys: [KEY, other], index: 1 },
    { name: 'key last of three', keys: [KEY, third, other], index: 2 },
    { name: 'wrong key', keys: [KEY] },
    { name: 'no keys', keys: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.index === undefined) rejects(() => decrypt(token, c.keys), 'signature');
      else assert.equal(decrypt(token, c.keys).keyIndex, c.index);
    });
  }
  it('generated keys are 44 url-safe base64 characters', () => {
    assert.match(generateFernetKey(), /^[A-Za-z0-9_-]{43}=$/);
  });
  it('a key with surrounding whitespace parses', () => {
    const token2 = encrypt(Buffer.from('a'), parseFernetKey(`  ${SECRET}\n`), NOW);
    assert.equal(decrypt(token2, [KEY]).plaintext.toString(), 'a');
  });
  const badKeys: [string, string][] = [
    ['empty', ''],
    ['31 bytes', Buffer.alloc(31).toString('base64url')],
    ['33 bytes', Buffer.alloc(33).toString('base64url')],
    ['standard base64 alphabet', SECRET.replace('_', '/')],
    ['garbage', 'not a key at all, not at all, not at all!!'],
  ];
  for (const [name, text] of badKeys) {
    it(`rejects key: ${name}`, () => assert.throws(() => parseFernetKey(text), FernetKeyError));
  }
});

describe('fernet: malformed and tampered tokens', () => {
  const token = encrypt(Buffer.from('a message of some length'), KEY, NOW);
  const bytes = decodeBase64Url(token) as Buffer;

  it('flipping any bit of any byte is refused', () => {
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const copy = Buffer.from(bytes);
        copy[i] = (copy[i] as number) ^ bit;
        rejects(() => decrypt(copy.toString('base64url'), [KEY], { now: NOW }));
      }
    }
  });
  it('changing any character is refused', () => {
    for (let i = 0; i < token.length; i++) {
      const swapped = token[i] === 'A' ? 'B' : 'A';
      rejects(() => decrypt(token.slice(0, i) + swapped + token.slice(i + 1), [KEY]));
    }
  });
  it('every truncation is refused', () => {
    for (let n = 0; n < token.length; n++) rejects(() => decrypt(token.slice(0, n), [KEY]));
    for (let n = 0; n < bytes.length; n++) {
      rejects(() => decrypt(bytes.subarray(0, n).toString('base64url'), [KEY]));
    }
  });
  it('extra bytes are refused', () => {
    rejects(() => decrypt(Buffer.concat([bytes, Buffer.alloc(16)]).toString('base64url'), [KEY]));
  });

  const strings: [string, string][] = [
    ['empty', ''],
    ['percent signs', '%'.repeat(token.length)],
    ['space inside', `${token.slice(0, 10)} ${token.slice(11)}`],
    ['standard alphabet +', `${token.slice(0, 30)}+${token.slice(31)}`],
    ['standard alphabet /', `${token.slice(0, 30)}/${token.slice(31)}`],
    ['padding in the middle', `${token.slice(0, 8)}==${token.slice(8)}`],
    ['three padding characters', `${token}===`],
    ['padding on a multiple of 4', `${token.slice(0, token.length - (token.length % 4))}=`],
    ['one stray character', `${token}A`],
    ['non-ASCII', `${token.slice(0, -1)}é`],
  ];
  for (const [name, text] of strings) {
    it(`not base64url: ${name}`, () => rejects(() => decrypt(text, [KEY]), 'malformed'));
  }

  it('a non-canonical final character is refused', () => {
    // The last character of an unpadded token carries unused low bits; setting them must not
    // yield a second spelling of the same token.
    const last = token.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const bumped = alphabet[alphabet.indexOf(last) + 1] as string;
    rejects(() => decrypt(token.slice(0, -1) + bumped, [KEY]), 'malformed');
  });
  it('version byte other than 0x80 is refused, even when signed', () => {
    rejects(() => decrypt(forge(SECRET, 0x81, Buffer.alloc(16)), [KEY]), 'malformed');
  });
  it('bad PKCS7 padding under a valid HMAC is refused', () => {
    rejects(() => decrypt(forge(SECRET, 0x80, Buffer.alloc(16)), [KEY]), 'payload');
  });
});

describe('fernet: time checks', () => {
  const token = encrypt(Buffer.from('t'), KEY, NOW);
  const cases: { name: string; now?: number; ttl?: number; skew?: number; ok: boolean }[] = [
    { name: 'no clock: no check', ok: true },
    { name: 'same second', now: NOW, ok: true },
    { name: 'issued 60 s ahead of us', now: NOW - 60, ok: true },
    { name: 'issued 61 s ahead of us', now: NOW - 61, ok: false },
    { name: 'issued 5 s ahead, skew 2 s', now: NOW - 5, skew: 2, ok: false },
    { name: 'within ttl', now: NOW + 60, ttl: 60, ok: true },
    { name: 'past ttl', now: NOW + 61, ttl: 60, ok: false },
    { name: 'old but no ttl', now: NOW + 1e9, ok: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const run = () =>
        decrypt(token, [KEY], { now: c.now, ttlSeconds: c.ttl, maxClockSkewSeconds: c.skew });
      if (c.ok) assert.equal(run().plaintext.toString(), 't');
      else rejects(run);
    });
  }
  it('encrypt refuses a negative time and a short IV', () => {
    assert.throws(() => encrypt(Buffer.alloc(1), KEY, -1), RangeError);
    assert.throws(() => encrypt(Buffer.alloc(1), KEY, NOW, Buffer.alloc(8)), RangeError);
  });
});
