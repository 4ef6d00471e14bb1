/**
 * The image service through the real `openstack` CLI against `tstack up`: upload, list, show,
 * save (same checksum), properties and tags, delete; a private image is invisible to another
 * project.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCloud, type Cloud, type Row } from './harness.ts';

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

  it('image create --file, list, show, set, save with the same checksum, delete', async () => {
    const file = join(dir, 'disk.raw');
    const data = randomBytes(256 * 1024);
    writeFileSync(file, data);
    const created = await cloud.json<Row>([
      'image',
      'create',
      '--file',
      file,
      '--disk-format',
      'raw',
      '--container-format',
      'bare',
      'cli-image',
    ]);
    // The CLI prints the image as POST answered it (queued); the upload follows.
    const id = String(created['id']);
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
});
