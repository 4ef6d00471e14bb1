import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  FilesystemStore,
  ImageTooLargeError,
  InvalidImageLocationError,
  UploadAbortedError,
} from '../../../src/image/store/index.ts';
import { bytes, chunked, describeImageStore } from './image-store-conformance.ts';

const dirs: string[] = [];
async function freshStore(): Promise<FilesystemStore> {
  const dir = await mkdtemp(join(tmpdir(), 'tstack-fs-store-'));
  dirs.push(dir);
  return new FilesystemStore(dir);
}
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describeImageStore('FilesystemStore', freshStore);

describe('FilesystemStore', () => {
  it('stores at file:///<dir>/<image id>, as Glance does', async () => {
    const store = await freshStore();
    const id = randomUUID();
    const put = await store.put(id, chunked(bytes(10)), { maxBytes: 100 });
    assert.equal(put.location, pathToFileURL(join(store.dir, id)).href);
    assert.match(put.location, /^file:\/\/\//);
    assert.deepEqual(await readdir(store.dir), [id]);
  });

  const failures = [
    {
      name: 'size cap mid-stream',
      run: (s: FilesystemStore) => s.put(randomUUID(), chunked(bytes(2e6)), { maxBytes: 1e6 }),
      error: ImageTooLargeError,
    },
    {
      name: 'source error mid-stream',
      run: (s: FilesystemStore) =>
        s.put(randomUUID(), chunked(bytes(2e6), 65536, 1e6), { maxBytes: 1e7 }),
      error: UploadAbortedError,
    },
    {
      name: 'client disconnect mid-stream',
      run: (s: FilesystemStore) => {
        const source = new Readable({ read() {} });
        source.push(bytes(100_000));
        setImmediate(() => source.destroy());
        return s.put(randomUUID(), source, { maxBytes: 1e7 });
      },
      error: UploadAbortedError,
    },
  ];
  for (const c of failures) {
    it(`${c.name} leaves no file behind`, async () => {
      const store = await freshStore();
      await assert.rejects(c.run(store), c.error);
      assert.deepEqual(await readdir(store.dir), []);
    });
  }

  const badLocations = [
    { name: 'another scheme', location: 'swift+http://x/images/abc' },
    { name: 'outside the directory', location: 'file:///etc/passwd' },
    { name: 'dot-dot escape', location: 'file:///STORE/../x' },
    { name: 'a temp file', location: 'file:///STORE/.abc.tmp' },
    { name: 'not a URI', location: '/etc/passwd' },
  ];
  for (const c of badLocations) {
    it(`refuses a location that is ${c.name}`, async () => {
      const store = await freshStore();
      const location = c.location.replace('/STORE', store.dir);
      await assert.rejects(store.get(location), InvalidImageLocationError);
      await assert.rejects(store.delete(location), InvalidImageLocationError);
    });
  }

  it('refuses an image id that is not a plain name', async () => {
    const store = await freshStore();
    for (const id of ['../x', 'a/b', '.hidden', '', 'not-a-uuid']) {
      await assert.rejects(
        store.put(id, chunked(bytes(1)), { maxBytes: 10 }),
        InvalidImageLocationError,
      );
    }
  });

  it('removeOrphans deletes old temp files and unknown images, keeps known and young ones', async () => {
    const store = await freshStore();
    const known = await store.put(randomUUID(), chunked(bytes(10)), { maxBytes: 100 });
    const orphan = await store.put(randomUUID(), chunked(bytes(10)), { maxBytes: 100 });
    const young = await store.put(randomUUID(), chunked(bytes(10)), { maxBytes: 100 });
    const tempName = `.${randomUUID()}.${randomUUID()}.tmp`;
    await writeFile(join(store.dir, tempName), 'partial');
    await writeFile(join(store.dir, 'README'), 'not an image id');
    await writeFile(join(store.dir, 'notes.txt'), 'not an image name');
    const now = new Date('2030-01-01T12:00:00Z');
    const old = new Date('2030-01-01T10:00:00Z');
    for (const name of [known.location, orphan.location].map((l) => fileURLToPath(l))) {
      await utimes(name, old, old);
    }
    await utimes(join(store.dir, tempName), old, old);
    await utimes(join(store.dir, 'notes.txt'), old, old);
    await utimes(join(store.dir, 'README'), old, old);
    await utimes(fileURLToPath(young.location), now, now);

    const removed = await store.removeOrphans([known.location, 'file:///elsewhere/x'], { now });
    const orphanName = fileURLToPath(orphan.location).slice(store.dir.length + 1);
    assert.deepEqual(removed, [tempName, orphanName].sort());
    const left = await readdir(store.dir);
    assert.equal(left.includes(tempName), false);
    assert.equal(await store.exists(orphan.location), false);
    assert.equal(await store.exists(known.location), true);
    assert.equal(await store.exists(young.location), true);
    assert.equal(left.includes('notes.txt') && left.includes('README'), true);
  });
});
