/**
 * Flavors and key pairs through the real `openstack` CLI against `tstack up`: the default
 * flavors; a private flavor with properties and a project on its access list, then unset and
 * deleted; key pairs generated and imported, listed, shown and deleted; and a member of another
 * project, who sees the private flavor only once the project is on its list, and none of the
 * admin's key pairs.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  column,
  startCloud,
  type CliEnv,
  type Cloud,
  type Row,
  otherProjectMember,
} from './harness.ts';

/** An OpenSSH Ed25519 public key line. */
function ed25519(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')} test\n`;
}

describe('openstack CLI: flavors and key pairs', { timeout: 180_000 }, () => {
  let cloud: Cloud;
  const dir = mkdtempSync(join(tmpdir(), 'ts-compute-cli-'));
  before(async () => {
    cloud = await startCloud();
  });
  after(async () => {
    await cloud?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const json = <T = Row>(args: readonly string[], env?: CliEnv) =>
    cloud.json<T>(args, env === undefined ? undefined : { env });
  const ok = (args: readonly string[], env?: CliEnv) =>
    cloud.ok(args, env === undefined ? undefined : { env });

  it('flavor list shows the default flavors', async () => {
    const rows = await json<Row[]>(['flavor', 'list']);
    assert.deepEqual(
      rows.map((r) => [r['ID'], r['Name'], r['RAM'], r['Disk'], r['VCPUs']]),
      [
        ['1', 'm1.tiny', 512, 1, 1],
        ['2', 'm1.small', 2048, 20, 1],
        ['3', 'm1.medium', 4096, 40, 2],
        ['4', 'm1.large', 8192, 80, 4],
        ['5', 'm1.xlarge', 16384, 160, 8],
      ],
    );
  });

  describe('a private flavor and another project', () => {
    let member: CliEnv;
    let projectId: string;
    before(async () => {
      ({ env: member, projectId } = await otherProjectMember(cloud, 'cmp'));
    });

    it('flavor create --private --property; set --property and --project; show; unset; delete', async () => {
      const created = await json([
        'flavor',
        'create',
        '--ram',
        '256',
        '--disk',
        '1',
        '--vcpus',
        '2',
        '--private',
        '--property',
        'hw:cpu_policy=shared',
        'cmp-small',
      ]);
      assert.equal(created['name'], 'cmp-small');
      assert.equal(created['os-flavor-access:is_public'], false);
      assert.deepEqual(created['properties'], { 'hw:cpu_policy': 'shared' });
      assert.ok(!column(await json<Row[]>(['flavor', 'list'], member)).includes('cmp-small'));
      await ok([
        'flavor',
        'set',
        '--property',
        'hw:numa_nodes=1',
        '--project',
        projectId,
        'cmp-small',
      ]);
      const shown = await json(['flavor', 'show', 'cmp-small']);
      assert.deepEqual(shown['properties'], { 'hw:cpu_policy': 'shared', 'hw:numa_nodes': '1' });
      assert.deepEqual(shown['access_project_ids'], [projectId]);
      assert.ok(column(await json<Row[]>(['flavor', 'list'], member)).includes('cmp-small'));
      await ok([
        'flavor',
        'unset',
        '--property',
        'hw:numa_nodes',
        '--project',
        projectId,
        'cmp-small',
      ]);
      assert.deepEqual((await json(['flavor', 'show', 'cmp-small']))['properties'], {
        'hw:cpu_policy': 'shared',
      });
      assert.ok(!column(await json<Row[]>(['flavor', 'list'], member)).includes('cmp-small'));
      const refused = await cloud.fails(
        ['flavor', 'create', '--ram', '1', '--vcpus', '1', 'nope'],
        { env: member },
      );
      assert.match(
        refused,
        /Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed/,
      );
      assert.equal(await ok(['flavor', 'delete', 'cmp-small']), '');
      assert.ok(!column(await json<Row[]>(['flavor', 'list', '--all'])).includes('cmp-small'));
    });

    it('keypair create (generated and imported), list, show, delete; another user sees none of them', async () => {
      const generated = await ok(['keypair', 'create', 'cmp-gen']);
      assert.match(generated, /-----BEGIN (RSA|OPENSSH) PRIVATE KEY-----/);
      const file = join(dir, 'key.pub');
      writeFileSync(file, ed25519());
      const imported = await json(['keypair', 'create', '--public-key', file, 'cmp-imp']);
      assert.equal(imported['name'], 'cmp-imp');
      assert.match(String(imported['fingerprint']), /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      const rows = await json<Row[]>(['keypair', 'list']);
      assert.deepEqual(column(rows).sort(), ['cmp-gen', 'cmp-imp']);
      assert.ok(rows.every((r) => r['Type'] === 'ssh'));
      const shown = await json(['keypair', 'show', 'cmp-imp']);
      assert.equal(shown['fingerprint'], imported['fingerprint']);
      assert.deepEqual(await json<Row[]>(['keypair', 'list'], member), []);
      assert.match(await cloud.fails(['keypair', 'show', 'cmp-imp'], { env: member }), /cmp-imp/);
      assert.equal(await ok(['keypair', 'delete', 'cmp-gen', 'cmp-imp']), '');
      assert.deepEqual(await json<Row[]>(['keypair', 'list']), []);
    });
  });
});
