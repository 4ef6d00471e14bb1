/** Image data through the API: upload, download, ranges, quotas, failures, isolation. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { imageHarness, type Harness } from './harness.ts';

type ImageBody = {
  id: string;
  status: string;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
};

async function upload(h: Harness, token: string, id: string, data: Buffer) {
  return h.app.inject({
    method: 'PUT',
    url: `/v2/images/${id}/file`,
    headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' },
    payload: data,
  });
}

async function download(h: Harness, token: string, id: string, range?: string) {
  return h.app.inject({
    method: 'GET',
    url: `/v2/images/${id}/file`,
    headers: { 'x-auth-token': token, ...(range ? { range } : {}) },
  });
}

describe('image data', () => {
  it('uploads, records checksum, sha512 and size, and downloads the same bytes', async (t) => {
    const h = await imageHarness(t);
    const token = h.token('p1');
    const image = (await h.create(token, {
      name: 'raw',
      disk_format: 'raw',
      container_format: 'bare',
    })) as ImageBody;
    const data = randomBytes(300_000);
    const put = await upload(h, token, image.id, data);
    assert.equal(put.statusCode, 204, put.body);
    const shown = (await h.call('GET', `/v2/images/${image.id}`, token)).body as ImageBody;
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, data.length);
    assert.equal(shown.virtual_size, data.length, 'raw: its own size');
    assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(shown.os_hash_algo, 'sha512');
    assert.equal(shown.os_hash_value, createHash('sha512').update(data).digest('hex'));
    const got = await download(h, token, image.id);
    assert.equal(got.statusCode, 200);
    assert.equal(got.headers['content-md5'], shown.checksum);
    assert.ok(got.rawPayload.equals(data));
    const part = await download(h, token, image.id, 'bytes=10-19');
    assert.equal(part.statusCode, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${data.length}`);
    assert.ok(part.rawPayload.equals(data.subarray(10, 20)));
  });

  it('refuses a second upload, and downloads nothing from a queued image', async (t) => {
    const h = await imageHarness(t);
    const token = h.token('p1');
    const image = (await h.create(token, {
      disk_format: 'raw',
      container_format: 'bare',
    })) as ImageBody;
    assert.equal((await download(h, token, image.id)).statusCode, 204);
    assert.equal((await upload(h, token, image.id, Buffer.from('one'))).statusCode, 204);
    assert.equal((await upload(h, token, image.id, Buffer.from('two'))).statusCode, 409);
  });

  it('an upload over the size cap is a 413 and leaves the image queued with no data behind', async (t) => {
    const h = await imageHarness(t, { image: { image_size_cap: 1000 } });
    const token = h.token('p1');
    const image = (await h.create(token, {
      disk_format: 'raw',
      container_format: 'bare',
    })) as ImageBody;
    const res = await upload(h, token, image.id, randomBytes(5000));
    assert.equal(res.statusCode, 413);
    assert.equal(
      ((await h.call('GET', `/v2/images/${image.id}`, token)).body as ImageBody).status,
      'queued',
    );
    const ok = await upload(h, token, image.id, randomBytes(500));
    assert.equal(ok.statusCode, 204, 'a retry after a failed upload works');
  });

  it('another project cannot upload to or download a private image', async (t) => {
    const h = await imageHarness(t);
    const owner = h.token('p1');
    const other = h.token('p2');
    const image = (await h.create(owner, {
      disk_format: 'raw',
      container_format: 'bare',
    })) as ImageBody;
    assert.equal((await upload(h, other, image.id, Buffer.from('x'))).statusCode, 404);
    assert.equal((await upload(h, owner, image.id, Buffer.from('mine'))).statusCode, 204);
    assert.equal((await download(h, other, image.id)).statusCode, 404);
  });

  it('deleting an image deletes its data', async (t) => {
    const h = await imageHarness(t);
    const token = h.token('p1');
    const image = (await h.create(token, {
      disk_format: 'raw',
      container_format: 'bare',
    })) as ImageBody;
    assert.equal((await upload(h, token, image.id, randomBytes(1000))).statusCode, 204);
    const shown = (await h.call('GET', `/v2/images/${image.id}`, token)).body as {
      locations?: unknown;
      file: string;
    };
    assert.ok(shown.file.endsWith('/file'));
    assert.equal((await h.call('DELETE', `/v2/images/${image.id}`, token)).status, 204);
    assert.equal((await download(h, token, image.id)).statusCode, 404);
    const dataDir = h.dataDir;
    assert.deepEqual(
      readdirSync(dataDir).filter((f) => f.includes(image.id)),
      [],
    );
  });
});
