import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FernetKeyError, InvalidTokenError } from '../../../src/identity/token/errors.ts';
import {
  encrypt,
  generateFernetKey,
  parseFernetKey,
  type FernetKey,
} from '../../../src/identity/token/fernet.ts';
import { newAuditId, type TokenPayload } from '../../../src/identity/token/payload.ts';
import { TokenCodec } from '../../../src/identity/token/token-codec.ts';

const NOW_MS = 1_700_000_000_500;
const NOW = 1_700_000_000;
const KEY = parseFernetKey(generateFernetKey());
const OTHER = parseFernetKey(generateFernetKey());

function codec(keys: FernetKey[], clockMs = NOW_MS): TokenCodec {
  return new TokenCodec({ keys: () => keys }, { clock: () => clockMs });
}

function passwordToken(overrides: Partial<TokenPayload> = {}): TokenPayload {
  return {
    userId: 'c4ca4238a0b923820dcc509a6f75849b',
    methods: ['password'],
    scope: { kind: 'project', projectId: 'c81e728d9d4c2f636f067f89cc14862c' },
    expiresAtMicros: (NOW + 3600) * 1e6 + 123_456,
    issuedAtMicros: NOW * 1e6 + 123_456,
    auditIds: [newAuditId()],
    ...overrides,
  };
}

function rejects(run: () => unknown, reason: InvalidTokenError['reason']): void {
  assert.throws(run, (e: unknown) => e instanceof InvalidTokenError && e.reason === reason);
}

describe('TokenCodec', () => {
  it('issues and opens, issued-at from the Fernet timestamp', () => {
    const payload = passwordToken();
    const { token, issuedAt } = codec([KEY]).issue(payload);
    assert.equal(issuedAt, NOW);
    assert.deepEqual(codec([KEY]).open(token), { payload, issuedAt: NOW });
  });

  const lengths: { name: string; payload: TokenPayload; max: number }[] = [
    { name: 'project-scoped password', payload: passwordToken(), max: 190 },
    {
      name: 'rescoped (audit chain)',
      payload: passwordToken({
        methods: ['password', 'token'],
        auditIds: [newAuditId(), newAuditId()],
      }),
      max: 210,
    },
    {
      name: 'application credential with chain',
      payload: passwordToken({
        methods: ['application_credential'],
        auditIds: [newAuditId(), newAuditId()],
        applicationCredentialId: '6512bd43d9caa6e02c990b0a82652dca',
      }),
      max: 230,
    },
    {
      name: 'domain-scoped, default domain',
      payload: passwordToken({ scope: { kind: 'domain', domainId: 'default' } }),
      max: 180,
    },
  ];
  for (const c of lengths) {
    it(`token length: ${c.name} ≤ ${c.max}`, () => {
      const { token } = codec([KEY]).issue(c.payload);
      assert.ok(token.length <= c.max, `${token.length} characters`);
      assert.match(token, /^[A-Za-z0-9_-]+$/);
    });
  }

  it('opens an expired token (the caller decides about expiry)', () => {
    const { token } = codec([KEY]).issue(passwordToken({ expiresAtMicros: 1 }));
    assert.equal(codec([KEY], NOW_MS + 86_400_000).open(token).payload.expiresAtMicros, 1);
  });

  const skews: { name: string; openerMs: number; ok: boolean }[] = [
    { name: 'issuer 60 s ahead', openerMs: NOW_MS - 60_000, ok: true },
    { name: 'issuer 2 min ahead', openerMs: NOW_MS - 120_000, ok: false },
    { name: 'issuer behind', openerMs: NOW_MS + 3_600_000, ok: true },
  ];
  for (const c of skews) {
    it(`clock skew: ${c.name}`, () => {
      const { token } = codec([KEY]).issue(passwordToken());
      const run = () => codec([KEY], c.openerMs).open(token);
      if (c.ok) assert.equal(run().issuedAt, NOW);
      else rejects(run, 'future');
    });
  }

  it('opens with a secondary key and issues with the primary', () => {
    const { token } = codec([OTHER]).issue(passwordToken());
    assert.equal(codec([KEY, OTHER]).open(token).issuedAt, NOW);
    const second = codec([KEY, OTHER]).issue(passwordToken()).token;
    rejects(() => codec([OTHER]).open(second), 'signature');
  });

  const refusals: { name: string; token: () => string; reason: InvalidTokenError['reason'] }[] = [
    {
      name: 'wrong key',
      token: () => codec([OTHER]).issue(passwordToken()).token,
      reason: 'signature',
    },
    { name: 'empty', token: () => '', reason: 'malformed' },
    { name: 'not base64', token: () => 'not a token!', reason: 'malformed' },
    { name: 'very long', token: () => 'A'.repeat(5000), reason: 'malformed' },
    {
      name: 'truncated',
      token: () => codec([KEY]).issue(passwordToken()).token.slice(0, -4),
      reason: 'malformed',
    },
    {
      name: 'authentic Fernet token, foreign payload',
      token: () => encrypt(Buffer.from('["a json payload"]'), KEY, NOW),
      reason: 'payload',
    },
  ];
  for (const c of refusals) {
    it(`refuses: ${c.name}`, () => rejects(() => codec([KEY]).open(c.token()), c.reason));
  }

  it('refuses to issue without a key', () => {
    assert.throws(() => codec([]).issue(passwordToken()), FernetKeyError);
  });
});
