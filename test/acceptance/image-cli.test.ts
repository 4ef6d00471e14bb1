/**
 * The image service through the real `openstack` CLI against `tstack up`: the test image `up`
 * registers; upload, list with filters, show, save (same checksum), properties and tags, delete;
 * import through staging; sharing with another project (invisible until shared, listed once
 * accepted); deactivation.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testImagePath } from '../helpers/guest-image.ts';
import { startCloud, type Cloud, type CliEnv, type Row, otherProjectMember } from './harness.ts';

/** Polls `image show` until the status leaves `from` (bounded: 10 s). */
async function statusAfter(cloud: Cloud, id: string, from: string[]): Promise<Row> {
  for (let i = 0; i < 100; i++) {
    const image = await cloud.json<Row>(['image', 'show', id]);
    if (!from.includes(String(image['status']))) return image;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`image ${id} still ${from.join('/')} after 10 s`);
}

describe('openstack CLI: images', { timeout: 120_000 }, () => {
  let cloud: Cloud;
  const dir = mkdtempSync(join(tmpdir(), 'ts-image-cli-'));
  before(async () => {
    cloud = await startCloud();
  });
  after(async () => {
    await cloud?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `openstack image create NAME --file FILE` of raw/bare data, with `extra` options; the id. */
  const createRaw = async (name: string, file: string, extra: string[] = []): Promise<string> =>
    String(
      (
        await cloud.json<Row>([
          'image',
          'create',
          '--file',
          file,
          '--disk-format',
          'raw',
          '--container-format',
          'bare',
          ...extra,
          name,
        ])
      )['id'],
    );

  it('image create --file, list, show, set, save with the same checksum, delete', async () => {
    const file = join(dir, 'disk.raw');
    const data = randomBytes(256 * 1024);
    writeFileSync(file, data);
    // The CLI prints the image as POST answered it (queued); the upload follows.
    const id = await createRaw('cli-image', file);
    const uploaded = await cloud.json<Row>(['image', 'show', id]);
    assert.equal(uploaded['status'], 'active');
    assert.equal(uploaded['checksum'], createHash('md5').update(data).digest('hex'));
    assert.equal(uploaded['size'], data.length);
    const list = await cloud.json<Row[]>(['image', 'list', '--name', 'cli-image']);
    assert.deepEqual(
      list.map((r) => r['ID']),
      [id],
    );
    await cloud.ok(['image', 'set', '--property', 'os_distro=tstack', '--tag', 'test', id]);
    const shown = await cloud.json<Row>(['image', 'show', id]);
    assert.deepEqual(shown['tags'], ['test']);
    assert.equal((shown['properties'] as Row)['os_distro'], 'tstack');
    const saved = join(dir, 'saved.raw');
    await cloud.ok(['image', 'save', '--file', saved, id]);
    assert.ok(readFileSync(saved).equals(data), 'saved bytes equal the uploaded ones');
    await cloud.ok(['image', 'delete', id]);
    assert.match(await cloud.fails(['image', 'show', id]), /No Image found|Could not find|404/i);
  });

  it('tstack up registered the public test image, the bootable qcow2 that fits m1.tiny', async () => {
    const image = await cloud.json<Row>(['image', 'show', 'tstack-test']);
    assert.equal(image['status'], 'active');
    assert.equal(image['visibility'], 'public');
    assert.equal(image['disk_format'], 'qcow2');
    // The built guest (a 32 MiB FAT disk), byte for byte, not the empty stand-in.
    assert.equal(image['virtual_size'], 32 * 1024 * 1024, 'qemu-img read its header');
    assert.equal(
      image['checksum'],
      createHash('md5')
        .update(readFileSync(await testImagePath()))
        .digest('hex'),
    );
    assert.equal((image['properties'] as Row)['hw_disk_bus'], 'virtio');
    assert.ok(Number(image['virtual_size']) <= 1024 ** 3, "within m1.tiny's 1 GiB root disk");
  });

  it('image create --import stages the file and imports it (glance-direct)', async () => {
    const file = join(dir, 'import.raw');
    const data = randomBytes(64 * 1024);
    writeFileSync(file, data);
    const id = await createRaw('imported', file, ['--import']);
    const image = await statusAfter(cloud, id, ['uploading', 'importing']);
    assert.equal(image['status'], 'active');
    assert.equal(image['checksum'], createHash('md5').update(data).digest('hex'));
    await cloud.ok(['image', 'delete', id]);
  });

  it('image list filters: name, tag, property, status, visibility, sort and limit', async () => {
    const file = join(dir, 'small.raw');
    writeFileSync(file, randomBytes(1024));
    const make = (name: string, extra: string[]) => createRaw(name, file, extra);
    const a = await make('flt-a', ['--tag', 'flt', '--property', 'os_distro=alpine', '--private']);
    const b = await make('flt-b', ['--tag', 'flt', '--property', 'os_distro=debian', '--public']);
    const names = async (args: string[]) =>
      (await cloud.json<Row[]>(['image', 'list', ...args])).map((r) => r['Name']);
    assert.deepEqual(await names(['--tag', 'flt', '--sort', 'name:asc']), ['flt-a', 'flt-b']);
    assert.deepEqual(await names(['--tag', 'flt', '--sort', 'name:desc']), ['flt-b', 'flt-a']);
    assert.deepEqual(await names(['--property', 'os_distro=debian']), ['flt-b']);
    assert.deepEqual(await names(['--tag', 'flt', '--private']), ['flt-a']);
    assert.deepEqual(await names(['--tag', 'flt', '--public']), ['flt-b']);
    assert.deepEqual(await names(['--name', 'flt-a', '--status', 'active']), ['flt-a']);
    assert.deepEqual(await names(['--name', 'flt-a', '--status', 'queued']), []);
    assert.equal((await names(['--tag', 'flt', '--limit', '1'])).length, 1);
    await cloud.ok(['image', 'delete', a, b]);
  });

  describe('another project', () => {
    let other: CliEnv;
    let id: string;
    const data = randomBytes(8 * 1024);
    before(async () => {
      other = (await otherProjectMember(cloud, 'img')).env;
      const file = join(dir, 'private.raw');
      writeFileSync(file, data);
      id = await createRaw('admins-only', file, ['--private']);
    });

    const listed = async (env: CliEnv, args: string[] = []) =>
      (await cloud.json<Row[]>(['image', 'list', ...args], { env })).map((r) => r['ID']);

    it('cannot see a private image, by list or by id', async () => {
      assert.ok(!(await listed(other)).includes(id));
      assert.match(
        await cloud.fails(['image', 'show', id], { env: other }),
        /No Image found|Could not find|404/i,
      );
      assert.ok(
        (await listed(other)).includes(
          (await cloud.json<Row>(['image', 'show', 'tstack-test']))['id'],
        ),
        'public images are listed',
      );
    });

    it('sees a shared image only after accepting it, then may download it', async () => {
      await cloud.ok(['image', 'set', '--shared', id]);
      const project = await cloud.json<Row>(['project', 'show', 'img-other']);
      const member = await cloud.json<Row>(['image', 'add', 'project', id, 'img-other']);
      assert.equal(member['status'], 'pending');
      assert.equal(member['member_id'], project['id']);
      assert.ok(!(await listed(other)).includes(id), 'pending: not in the list');
      await cloud.ok(['image', 'set', '--accept', id], { env: other });
      assert.ok((await listed(other)).includes(id), 'accepted: listed');
      assert.ok((await listed(other, ['--shared'])).includes(id));
      const members = await cloud.json<Row[]>(['image', 'member', 'list', id]);
      assert.deepEqual(
        members.map((m) => m['Status']),
        ['accepted'],
      );
      const saved = join(dir, 'shared.raw');
      await cloud.ok(['image', 'save', '--file', saved, id], { env: other });
      assert.ok(readFileSync(saved).equals(data));
      assert.match(
        await cloud.fails(['image', 'delete', id], { env: other }),
        /403|Forbidden|not allowed|Failed to delete/i,
        "a member may not delete the owner's image",
      );
    });

    it('a deactivated image cannot be downloaded by a non-admin until reactivated', async () => {
      await cloud.ok(['image', 'set', '--deactivate', id]);
      assert.equal((await cloud.json<Row>(['image', 'show', id]))['status'], 'deactivated');
      const saved = join(dir, 'deactivated.raw');
      // The 403 reaches this CLI only as a failed download (it does not read the status).
      assert.match(
        await cloud.fails(['image', 'save', '--file', saved, id], { env: other }),
        /Unable to download image/,
      );
      await cloud.ok(['image', 'set', '--activate', id]);
      assert.equal((await cloud.json<Row>(['image', 'show', id]))['status'], 'active');
      await cloud.ok(['image', 'save', '--file', saved, id], { env: other });
      assert.ok(readFileSync(saved).equals(data));
    });
  });
});
