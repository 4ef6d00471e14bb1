/**
 * Interoperable image import: staging, `glance-direct`, `copy-image` between stores, discovery,
 * and what recovery does with work a crash interrupted.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { imageHarness, type Harness } from './harness.ts';

type ImageBody = {
  id: string;
  status: string;
  size: number | null;
  checksum: string | null;
  stores?: string;
  os_glance_failed_import?: string;
  os_glance_importing_to_stores?: string;
  os_glance_import_task?: string;
};

async function putData(
  h: Harness,
  token: string,
  id: string,
  what: 'stage' | 'file',
  data: Buffer,
  headers: Record<string, string> = {},
) {
  return h.app.inject({
    method: 'PUT',
    url: `/v2/images/${id}/${what}`,
    headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream', ...headers },
    payload: data,
  });
}

async function importImage(
  h: Harness,
  token: string,
  id: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return h.app.inject({
    method: 'POST',
    url: `/v2/images/${id}/import`,
    headers: { 'x-auth-token': token, 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  });
}

async function show(h: Harness, token: string, id: string): Promise<ImageBody> {
  return (await h.call('GET', `/v2/images/${id}`, token)).body as ImageBody;
}

/** Polls until the import in the background has settled, lock released (bounded: 5 s). */
async function settled(h: Harness, token: string, id: string): Promise<ImageBody> {
  for (let i = 0; i < 500; i++) {
    const image = await show(h, token, id);
    const working =
      image.status === 'importing' ||
      !!image.os_glance_importing_to_stores ||
      image.os_glance_import_task !== undefined;
    if (!working) return image;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`image ${id} still importing after 5 s`);
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const files = (dir: string) => readdirSync(dir).filter((f) => f !== '.staging');

function extraStore(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ts-image-fast-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('glance-direct import', () => {
  it('stages, imports and then serves the data', async (t) => {
    const h = await imageHarness(t);
    const token = h.token('p1');
    const created = await h.call('POST', '/v2/images', token, {
      name: 'staged',
      disk_format: 'raw',
      container_format: 'bare',
    });
    assert.equal(created.headers['openstack-image-import-methods'], 'glance-direct');
    const id = (created.body as ImageBody).id;
    const data = randomBytes(200_000);
    const staged = await putData(h, token, id, 'stage', data, {
      'x-openstack-image-size': String(data.length),
    });
    assert.equal(staged.statusCode, 204, staged.body);
    const uploading = await show(h, token, id);
    assert.equal(uploading.status, 'uploading');
    assert.equal(uploading.size, data.length);
    assert.equal(
      (await h.call('GET', `/v2/images/${id}/file`, token)).status,
      204,
      'staged data is not downloadable',
    );
    const started = await importImage(h, token, id, { method: { name: 'glance-direct' } });
    assert.equal(started.statusCode, 202, started.body);
    const active = await settled(h, token, id);
    assert.equal(active.status, 'active');
    assert.equal(active.checksum, md5(data));
    const got = await h.app.inject({
      method: 'GET',
      url: `/v2/images/${id}/file`,
      headers: { 'x-auth-token': token },
    });
    assert.ok(got.rawPayload.equals(data));
    assert.deepEqual(readdirSync(join(h.dataDir, '.staging')), [], 'staging emptied');
    assert.deepEqual(files(h.dataDir), [id]);
  });

  it('refuses what Glance refuses, each with its 4xx, and keeps the image retryable', async (t) => {
    const h = await imageHarness(t);
    const token = h.token('p1');
    const image = (await h.create(token, {
      disk_format: 'qcow2',
      container_format: 'bare',
    })) as ImageBody;
    const data = randomBytes(1000);
    const cases: [string, () => ReturnType<typeof importImage>, number, RegExp][] = [
      [
        'import before staging',
        () => importImage(h, token, image.id, { method: { name: 'glance-direct' } }),
        409,
        /needs to be staged/,
      ],
      ['no method', () => importImage(h, token, image.id, {}), 400, /requires a 'method'/],
      [
        'no method name',
        () => importImage(h, token, image.id, { method: {} }),
        400,
        /requires a 'name'/,
      ],
      [
        'copy-image with one store',
        () => importImage(h, token, image.id, { method: { name: 'copy-image' } }),
        400,
        /Unknown import method name 'copy-image'/,
      ],
      [
        'web-download',
        () => importImage(h, token, image.id, { method: { name: 'web-download' } }),
        400,
        /Unknown import method/,
      ],
      [
        'all_stores not boolean',
        () =>
          importImage(h, token, image.id, { method: { name: 'glance-direct' }, all_stores: 'y' }),
        400,
        /'all_stores' must be boolean/,
      ],
      [
        'staged size differs from the announced one',
        () => putData(h, token, image.id, 'stage', data, { 'x-openstack-image-size': '999' }),
        400,
        /differs from the expected size/,
      ],
      [
        'bad size header',
        () => putData(h, token, image.id, 'stage', data, { 'x-openstack-image-size': 'many' }),
        400,
        /x-openstack-image-size/,
      ],
      [
        'staging JSON',
        () =>
          h.app.inject({
            method: 'PUT',
            url: `/v2/images/${image.id}/stage`,
            headers: { 'x-auth-token': token, 'content-type': 'application/json' },
            payload: '{}',
          }),
        415,
        /application\/octet-stream/,
      ],
      [
        "another project's image",
        () => putData(h, h.token('p2'), image.id, 'stage', data),
        404,
        /No image found/,
      ],
    ];
    for (const [name, call, status, message] of cases) {
      const res = await call();
      assert.equal(res.statusCode, status, `${name}: ${res.body}`);
      assert.match(res.body, message, name);
    }
    assert.equal((await show(h, token, image.id)).status, 'queued');
    assert.deepEqual(readdirSync(join(h.dataDir, '.staging')), [], 'no partial staged data');
    assert.equal((await putData(h, token, image.id, 'stage', data)).statusCode, 204);
    const again = await putData(h, token, image.id, 'stage', data);
    assert.equal(again.statusCode, 409, 'staging twice');
    const noFormat = (await h.create(token, {})) as ImageBody;
    assert.equal((await putData(h, token, noFormat.id, 'stage', data)).statusCode, 204);
    const formatless = await importImage(h, token, noFormat.id, {
      method: { name: 'glance-direct' },
    });
    assert.equal(formatless.statusCode, 409);
    assert.match(formatless.body, /'container_format' needs to be set/);
    const reader = h.token('p1', ['reader']);
    assert.equal(
      (await importImage(h, reader, image.id, { method: { name: 'glance-direct' } })).statusCode,
      403,
      'a reader may not import',
    );
    const partial = await importImage(h, token, image.id, {
      method: { name: 'glance-direct' },
      all_stores_must_succeed: false,
    });
    assert.equal(partial.statusCode, 400, 'all_stores_must_succeed=false needs several stores');
  });

  it('deleting a staged image deletes the staged data', async (t) => {
    const h = await imageHarness(t);
    const token = h.token('p1');
    const image = (await h.create(token, {})) as ImageBody;
    assert.equal((await putData(h, token, image.id, 'stage', randomBytes(10))).statusCode, 204);
    assert.equal(readdirSync(join(h.dataDir, '.staging')).length, 1);
    assert.equal((await h.call('DELETE', `/v2/images/${image.id}`, token)).status, 204);
    assert.deepEqual(readdirSync(join(h.dataDir, '.staging')), []);
  });
});

describe('several stores', () => {
  it('uploads to a named store, copies between stores, and deletes from all', async (t) => {
    const fastDir = extraStore(t);
    const h = await imageHarness(t, {
      image: { stores: { fast: { data_dir: fastDir, description: 'Fast disks' } } },
    });
    const token = h.token('p1');
    assert.deepEqual((await h.call('GET', '/v2/info/stores', token)).body, {
      stores: [
        { id: 'file', description: 'Local filesystem store', default: 'true' },
        { id: 'fast', description: 'Fast disks' },
      ],
    });
    const methods = (await h.call('GET', '/v2/info/import', token)).body as {
      'import-methods': { value: string[] };
    };
    assert.deepEqual(methods['import-methods'].value, ['glance-direct', 'copy-image']);
    const created = await h.call('POST', '/v2/images', token, {
      disk_format: 'raw',
      container_format: 'bare',
    });
    assert.equal(created.headers['openstack-image-store-ids'], 'file,fast');
    const id = (created.body as ImageBody).id;
    const data = randomBytes(50_000);
    const put = await putData(h, token, id, 'file', data, { 'x-image-meta-store': 'fast' });
    assert.equal(put.statusCode, 204, put.body);
    assert.equal((await show(h, token, id)).stores, 'fast');
    assert.deepEqual(files(fastDir), [id]);
    assert.deepEqual(files(h.dataDir), []);

    const copy = { method: { name: 'copy-image' }, stores: ['file'] };
    assert.equal(
      (await importImage(h, token, id, copy)).statusCode,
      403,
      'copy-image is for admins by default',
    );
    assert.equal((await importImage(h, h.admin, id, copy)).statusCode, 202);
    const copied = await settled(h, token, id);
    assert.equal(copied.stores, 'fast,file');
    assert.equal(copied.status, 'active');
    assert.deepEqual(files(h.dataDir), [id]);
    const again = await importImage(h, h.admin, id, copy);
    assert.equal(again.statusCode, 400);
    assert.match(again.body, /already present at store 'file'/);
    const everywhere = await importImage(h, h.admin, id, {
      method: { name: 'copy-image' },
      all_stores: true,
    });
    assert.equal(everywhere.statusCode, 202, 'nothing left to copy is not an error');
    const unknown = await importImage(h, h.admin, id, {
      method: { name: 'copy-image' },
      stores: ['slow'],
    });
    assert.equal(unknown.statusCode, 409);
    assert.match(unknown.body, /Unknown store slow/);
    const both = await importImage(
      h,
      h.admin,
      id,
      { method: { name: 'copy-image' }, stores: ['file'] },
      { 'x-image-meta-store': 'fast' },
    );
    assert.equal(both.statusCode, 400, 'stores and the header together');

    assert.equal((await h.call('DELETE', `/v2/images/${id}`, token)).status, 204);
    assert.deepEqual(files(fastDir), []);
    assert.deepEqual(files(h.dataDir), []);
  });

  it('imports staged data into every store asked for', async (t) => {
    const fastDir = extraStore(t);
    const h = await imageHarness(t, { image: { stores: { fast: { data_dir: fastDir } } } });
    const token = h.token('p1');
    const image = (await h.create(token, {
      disk_format: 'raw',
      container_format: 'bare',
    })) as ImageBody;
    const data = randomBytes(10_000);
    assert.equal((await putData(h, token, image.id, 'stage', data)).statusCode, 204);
    const started = await importImage(h, token, image.id, {
      method: { name: 'glance-direct' },
      all_stores: true,
    });
    assert.equal(started.statusCode, 202, started.body);
    const done = await settled(h, token, image.id);
    assert.equal(done.status, 'active');
    assert.equal(done.stores, 'file,fast');
    assert.equal(done.checksum, md5(data));
    assert.equal(done.os_glance_importing_to_stores, '');
    assert.deepEqual(files(fastDir), [image.id]);
  });

  it('refuses a default store that is not configured', async (t) => {
    await assert.rejects(imageHarness(t, { image: { default_store: 'fast' } }), (err: Error) => {
      assert.match(err.message, /image\.default_store.*no store 'fast'/);
      return true;
    });
  });
});

describe('recovery', () => {
  it('takes back uploads and imports a crash cut off, once their lease ran out', async (t) => {
    const h = await imageHarness(t);
    const token = h.token('p1');
    const make = async (status: string, props: Record<string, string> = {}) => {
      const image = (await h.create(token, {
        disk_format: 'raw',
        container_format: 'bare',
      })) as ImageBody;
      await h.db.updateTable('image').set({ status }).where('id', '=', image.id).execute();
      for (const [name, value] of Object.entries(props))
        await h.db
          .insertInto('image_property')
          .values({ image_id: image.id, name, value })
          .execute();
      return image.id;
    };
    const saving = await make('saving');
    const stagedId = await make('queued');
    assert.equal((await putData(h, token, stagedId, 'stage', randomBytes(100))).statusCode, 204);
    await h.db
      .updateTable('image')
      .set({ status: 'importing' })
      .where('id', '=', stagedId)
      .execute();
    await h.db
      .insertInto('image_property')
      .values([
        { image_id: stagedId, name: 'os_glance_import_task', value: 'dead-task' },
        { image_id: stagedId, name: 'os_glance_importing_to_stores', value: 'file' },
      ])
      .execute();
    const unstaged = await make('importing');
    const resting = await make('queued');
    assert.equal((await putData(h, token, resting, 'stage', randomBytes(10))).statusCode, 204);
    const locked = await make('active', {
      os_glance_import_task: 'dead-task',
      os_glance_importing_to_stores: 'fast',
    });

    await h.restart(1000);
    assert.equal((await show(h, token, saving)).status, 'saving', 'within the lease: untouched');

    await h.restart(10 * 60_000);
    assert.equal((await show(h, token, saving)).status, 'queued');
    const retry = await show(h, token, stagedId);
    assert.equal(retry.status, 'uploading', 'staged data kept for another import');
    assert.equal(retry.os_glance_failed_import, 'file');
    assert.equal(retry.os_glance_import_task, undefined);
    assert.equal((await show(h, token, unstaged)).status, 'queued');
    assert.equal(
      (await show(h, token, resting)).status,
      'uploading',
      'a finished stage waits for its import however long it takes',
    );
    const copy = await show(h, token, locked);
    assert.equal(copy.status, 'active');
    assert.equal(copy.os_glance_import_task, undefined);
    assert.equal(copy.os_glance_failed_import, 'fast');
    const imported = await importImage(h, token, stagedId, { method: { name: 'glance-direct' } });
    assert.equal(imported.statusCode, 202, imported.body);
    assert.equal((await settled(h, token, stagedId)).status, 'active');
  });

  it('sweeps data no image points to at start, and leaves young files alone', async (t) => {
    const h = await imageHarness(t);
    const token = h.token('p1');
    const image = (await h.create(token, {})) as ImageBody;
    assert.equal((await putData(h, token, image.id, 'file', randomBytes(10))).statusCode, 204);
    const old = new Date(Date.now() - 2 * 3_600_000);
    const orphan = '5f0a4f3e-0000-4000-8000-000000000001';
    const temp = `.${orphan}.5f0a4f3e-0000-4000-8000-000000000002.tmp`;
    const young = '5f0a4f3e-0000-4000-8000-000000000003';
    for (const name of [orphan, temp, join('.staging', orphan)]) {
      writeFileSync(join(h.dataDir, name), 'x');
      utimesSync(join(h.dataDir, name), old, old);
    }
    writeFileSync(join(h.dataDir, young), 'x');
    utimesSync(join(h.dataDir, image.id), old, old);
    await h.restart();
    // Closing a service waits for its start-up sweep; the next one finds the same files.
    await h.restart();
    assert.deepEqual(files(h.dataDir).sort(), [image.id, young].sort());
    assert.deepEqual(readdirSync(join(h.dataDir, '.staging')), []);
  });
});
