/**
 * Key pairs over HTTP: import with upstream's fingerprint, server-side generation (below 2.92),
 * the shapes and status codes per microversion, acting for another user (admins, 2.10),
 * paging (2.35), and isolation between users.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { computeHarness } from './harness.ts';

/** An Ed25519 public key in OpenSSH form, and its MD5 fingerprint as OpenSSH prints it. */
function ed25519(): { key: string; fingerprint: string } {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  const md5 = createHash('md5').update(blob).digest('hex');
  return {
    key: `ssh-ed25519 ${blob.toString('base64')} me@host\n`,
    fingerprint: md5.match(/../g)?.join(':') ?? '',
  };
}

describe('compute: key pairs', () => {
  it('imports a public key, and generates one below 2.92', async (t) => {
    const h = await computeHarness(t, { defaultFlavors: false });
    const user = h.token('u1', 'p1');
    const { key, fingerprint } = ed25519();
    const imported = await h.call('POST', '/v2.1/os-keypairs', {
      token: user,
      version: '2.10',
      body: { keypair: { name: 'k1', public_key: key } },
    });
    assert.equal(imported.status, 201, imported.text);
    assert.deepEqual(imported.body.keypair, {
      name: 'k1',
      public_key: key,
      fingerprint,
      user_id: 'u1',
      type: 'ssh',
    });
    const generated = await h.call('POST', '/v2.1/os-keypairs', {
      token: user,
      body: { keypair: { name: 'k2' } },
    });
    assert.equal(generated.status, 200);
    assert.match(generated.body.keypair.private_key, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    assert.match(generated.body.keypair.public_key, / Generated-by-Nova$/);
    assert.equal(generated.body.keypair.type, undefined);
    // The private key matches the public key it came with.
    const fromPrivate = createPublicKey(generated.body.keypair.private_key).export({
      format: 'jwk',
    });
    const blob = Buffer.from(generated.body.keypair.public_key.split(' ')[1], 'base64');
    assert.ok(blob.includes(Buffer.from(fromPrivate.n ?? '', 'base64url')));
    const required = await h.call('POST', '/v2.1/os-keypairs', {
      token: user,
      version: '2.92',
      body: { keypair: { name: 'k3' } },
    });
    assert.equal(required.status, 400);
    assert.match(required.body.badRequest.message, /'public_key' is a required property/);
    const cases: {
      name: string;
      keypair: Record<string, unknown>;
      status: number;
      message: RegExp;
    }[] = [
      {
        name: 'duplicate',
        keypair: { name: 'k1', public_key: key },
        status: 409,
        message: /^Key pair 'k1' already exists\.$/,
      },
      {
        name: 'bad key',
        keypair: { name: 'k4', public_key: 'ssh-rsa not-base64!' },
        status: 400,
        message: /^Keypair data is invalid: failed to generate fingerprint$/,
      },
      {
        name: 'bad name',
        keypair: { name: 'a/b', public_key: key },
        status: 400,
        message: /does not match/,
      },
      {
        name: 'bad type',
        keypair: { name: 'k5', public_key: key, type: 'pgp' },
        status: 400,
        message: /is not one of \['ssh', 'x509'\]/,
      },
    ];
    for (const c of cases) {
      const res = await h.call('POST', '/v2.1/os-keypairs', {
        token: user,
        version: '2.10',
        body: { keypair: c.keypair },
      });
      assert.equal(res.status, c.status, `${c.name}: ${res.text}`);
      assert.match((Object.values(res.body)[0] as { message: string }).message, c.message, c.name);
    }
  });

  it("counts each user's key pairs against the project's key_pairs limit", async (t) => {
    const h = await computeHarness(t, { defaultFlavors: false });
    const set = await h.call('PUT', '/v2.1/os-quota-sets/p1', {
      body: { quota_set: { key_pairs: 2 } },
    });
    assert.equal(set.status, 200, set.text);
    const create = (token: string, name: string) =>
      h.call('POST', '/v2.1/os-keypairs', {
        token,
        version: '2.10',
        body: { keypair: { name, public_key: ed25519().key } },
      });
    const u1 = h.token('u1', 'p1');
    assert.equal((await create(u1, 'a')).status, 201);
    assert.equal((await create(u1, 'b')).status, 201);
    const over = await create(u1, 'c');
    assert.equal(over.status, 403);
    assert.deepEqual(over.body, {
      forbidden: { code: 403, message: 'Quota exceeded, too many key pairs.' },
    });
    // Per user: another user of the project still has room; a freed slot can be used again.
    assert.equal((await create(h.token('u2', 'p1'), 'a')).status, 201);
    assert.equal((await h.call('DELETE', '/v2.1/os-keypairs/a', { token: u1 })).status, 202);
    assert.equal((await create(u1, 'c')).status, 201);
    // Another project keeps the default limit, and -1 lifts it.
    assert.equal((await create(h.token('u3', 'p2'), 'a')).status, 201);
    await h.call('PUT', '/v2.1/os-quota-sets/p1', { body: { quota_set: { key_pairs: -1 } } });
    assert.equal((await create(u1, 'd')).status, 201);
  });

  it('lists, shows and deletes a user own key pairs, and admins those of others', async (t) => {
    const h = await computeHarness(t, { defaultFlavors: false });
    const u1 = h.token('u1', 'p1');
    const u2 = h.token('u2', 'p1');
    for (const name of ['a', 'b', 'c'])
      await h.call('POST', '/v2.1/os-keypairs', {
        token: u1,
        version: '2.10',
        body: { keypair: { name, public_key: ed25519().key } },
      });
    const list = await h.call('GET', '/v2.1/os-keypairs', { token: u1, version: '2.2' });
    assert.deepEqual(
      list.body.keypairs.map((k: any) => Object.keys(k.keypair).sort()),
      [
        ['fingerprint', 'name', 'public_key', 'type'],
        ['fingerprint', 'name', 'public_key', 'type'],
        ['fingerprint', 'name', 'public_key', 'type'],
      ],
    );
    const page = await h.call('GET', '/v2.1/os-keypairs?limit=2', { token: u1, version: '2.35' });
    assert.deepEqual(
      page.body.keypairs.map((k: any) => k.keypair.name),
      ['a', 'b'],
    );
    assert.match(page.body.keypairs_links[0].href, /os-keypairs\?limit=2&marker=b$/);
    const shown = await h.call('GET', '/v2.1/os-keypairs/a', { token: u1, version: '2.2' });
    assert.equal(shown.body.keypair.user_id, 'u1');
    assert.equal(shown.body.keypair.deleted, false);
    assert.match(shown.body.keypair.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    // Another user sees none of them, and may not ask for them.
    assert.deepEqual((await h.call('GET', '/v2.1/os-keypairs', { token: u2 })).body.keypairs, []);
    const hidden = await h.call('GET', '/v2.1/os-keypairs/a', { token: u2 });
    assert.deepEqual(hidden.body, {
      itemNotFound: { code: 404, message: 'Keypair a not found for user u2' },
    });
    assert.equal(
      (await h.call('GET', '/v2.1/os-keypairs?user_id=u1', { token: u2, version: '2.10' })).status,
      403,
    );
    assert.equal((await h.call('DELETE', '/v2.1/os-keypairs/a', { token: u2 })).status, 404);
    const asAdmin = await h.call('GET', '/v2.1/os-keypairs?user_id=u1', { version: '2.10' });
    assert.equal(asAdmin.body.keypairs.length, 3);
    assert.equal(
      (await h.call('DELETE', '/v2.1/os-keypairs/a?user_id=u1', { version: '2.10' })).status,
      204,
    );
    assert.equal((await h.call('DELETE', '/v2.1/os-keypairs/b', { token: u1 })).status, 202);
    assert.deepEqual(
      (await h.call('GET', '/v2.1/os-keypairs', { token: u1 })).body.keypairs.map(
        (k: any) => k.keypair.name,
      ),
      ['c'],
    );
  });
});
