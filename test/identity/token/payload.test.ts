import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTokenError } from '../../../src/identity/token/errors.ts';
import {
  AUTH_METHODS,
  decodeTokenPayload,
  encodeTokenPayload,
  isoTimeMicros,
  newAuditId,
  type TokenPayload,
} from '../../../src/identity/token/payload.ts';

const USER = '0f5e4d3c2b1a09f8e7d6c5b4a3928170';
const PROJECT = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const AUDIT = 'M2Y4NzNhNDAtZmMwYi00MQ';
const CHAIN = 'uMlbfuWRQnWKmTcW9mUtUQ';
const EXPIRES = 1_700_003_600_123_456;

/** A project-scoped password token payload; cases override what they exercise. */
function payload(overrides: Partial<TokenPayload> = {}): TokenPayload {
  return {
    userId: USER,
    methods: ['password'],
    scope: { kind: 'project', projectId: PROJECT },
    expiresAtMicros: EXPIRES,
    issuedAtMicros: EXPIRES - 3_600_000_000,
    auditIds: [AUDIT],
    ...overrides,
  };
}

describe('payload: round trip', () => {
  const cases: { name: string; payload: TokenPayload }[] = [
    { name: 'project scope', payload: payload() },
    { name: 'unscoped', payload: payload({ scope: { kind: 'unscoped' } }) },
    {
      name: 'default domain',
      payload: payload({ scope: { kind: 'domain', domainId: 'default' } }),
    },
    { name: 'hex domain', payload: payload({ scope: { kind: 'domain', domainId: PROJECT } }) },
    { name: 'system scope', payload: payload({ scope: { kind: 'system', system: 'all' } }) },
    { name: 'audit chain', payload: payload({ methods: ['token'], auditIds: [AUDIT, CHAIN] }) },
    {
      name: 'application credential',
      payload: payload({
        methods: ['application_credential'],
        applicationCredentialId: '5e1b6e3f2c4d4a7b8e9f0a1b2c3d4e5f',
      }),
    },
    {
      name: 'application credential and chain',
      payload: payload({ auditIds: [AUDIT, CHAIN], applicationCredentialId: 'app-cred' }),
    },
    { name: 'every method', payload: payload({ methods: [...AUTH_METHODS] }) },
    { name: 'no method', payload: payload({ methods: [] }) },
    { name: 'uppercase hex id kept as text', payload: payload({ userId: USER.toUpperCase() }) },
    { name: '16-character text id', payload: payload({ userId: 'abcdefghijklmnop' }) },
    {
      name: 'uuid with dashes',
      payload: payload({ userId: '0f5e4d3c-2b1a-09f8-e7d6-c5b4a3928170' }),
    },
    { name: '64-hex federated user id', payload: payload({ userId: 'ab'.repeat(32) }) },
    { name: 'non-ASCII id', payload: payload({ userId: 'jürgen@ldap' }) },
    { name: '255-byte id', payload: payload({ userId: 'u'.repeat(255) }) },
    { name: 'epoch expiry', payload: payload({ expiresAtMicros: 0 }) },
    { name: 'year 2200 expiry', payload: payload({ expiresAtMicros: 7_258_118_400_000_001 }) },
    { name: 'fresh audit ids', payload: payload({ auditIds: [newAuditId(), newAuditId()] }) },
  ];
  for (const c of cases) {
    it(c.name, () =>
      assert.deepEqual(decodeTokenPayload(encodeTokenPayload(c.payload)), c.payload),
    );
  }

  it('methods decode in AUTH_METHODS order without duplicates', () => {
    const p = payload({ methods: ['totp', 'password', 'totp'] });
    assert.deepEqual(decodeTokenPayload(encodeTokenPayload(p)).methods, ['password', 'totp']);
  });
  it('a project-scoped password token payload is small', () => {
    // 3 header + 8 expiry + 8 issue time + 17 user + 17 project + 16 audit bytes.
    assert.equal(encodeTokenPayload(payload()).length, 69);
  });
});

describe('payload: refused on encode (caller bugs)', () => {
  const cases: { name: string; payload: TokenPayload }[] = [
    { name: 'unknown method', payload: payload({ methods: ['kerberos' as 'password'] }) },
    { name: 'empty user id', payload: payload({ userId: '' }) },
    { name: '256-byte id', payload: payload({ userId: 'u'.repeat(256) }) },
    { name: 'empty project id', payload: payload({ scope: { kind: 'project', projectId: '' } }) },
    { name: 'no audit id', payload: payload({ auditIds: [] as unknown as [string] }) },
    {
      name: 'three audit ids',
      payload: payload({ auditIds: [AUDIT, AUDIT, AUDIT] as unknown as [string] }),
    },
    { name: 'audit id too short', payload: payload({ auditIds: ['abc'] }) },
    { name: 'audit id with padding', payload: payload({ auditIds: [`${AUDIT.slice(0, 20)}==`] }) },
    { name: 'audit id non-canonical', payload: payload({ auditIds: [`${AUDIT.slice(0, 21)}R`] }) },
    { name: 'fractional expiry', payload: payload({ expiresAtMicros: 1.5 }) },
    { name: 'negative expiry', payload: payload({ expiresAtMicros: -1 }) },
    { name: 'unsafe expiry', payload: payload({ expiresAtMicros: 2 ** 53 }) },
  ];
  for (const c of cases) {
    it(c.name, () => assert.throws(() => encodeTokenPayload(c.payload), RangeError));
  }
});

describe('payload: refused on decode', () => {
  const good = encodeTokenPayload(payload({ applicationCredentialId: 'x' }));
  const edit = (at: number, value: number): Buffer => {
    const copy = Buffer.from(good);
    copy[at] = value;
    return copy;
  };
  const cases: { name: string; data: Buffer }[] = [
    { name: 'empty', data: Buffer.alloc(0) },
    { name: 'unknown version', data: edit(0, 2) },
    { name: 'version 0', data: edit(0, 0) },
    { name: 'reserved flag bit', data: edit(1, (good[1] as number) | 0x10) },
    { name: 'unknown method bit', data: edit(2, 0x80) },
    { name: 'trailing byte', data: Buffer.concat([good, Buffer.from([0])]) },
    { name: 'unsafe expiry', data: edit(3, 0xff) },
  ];
  for (let n = 1; n < good.length; n++)
    cases.push({ name: `cut to ${n} bytes`, data: good.subarray(0, n) });
  for (const c of cases) {
    it(c.name, () =>
      assert.throws(
        () => decodeTokenPayload(c.data),
        (e: unknown) => e instanceof InvalidTokenError && e.reason === 'payload',
      ),
    );
  }
});

describe('payload: isoTimeMicros', () => {
  const cases: [number, string][] = [
    [0, '1970-01-01T00:00:00.000000Z'],
    [EXPIRES, '2023-11-14T23:13:20.123456Z'],
    [1_440_668_998_000_001, '2015-08-27T09:49:58.000001Z'],
    [1_440_668_998_999_999, '2015-08-27T09:49:58.999999Z'],
  ];
  for (const [micros, iso] of cases) it(iso, () => assert.equal(isoTimeMicros(micros), iso));
});
