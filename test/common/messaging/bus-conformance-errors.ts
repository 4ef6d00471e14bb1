/**
 * The remote-error half of the `call` contract; `bus-conformance.ts` runs it. An error thrown by a
 * handler comes back to the caller as its own class when registered, else as a RemoteError.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  ApiError,
  ConflictError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
} from '../../../src/common/errors.ts';
import {
  NoSuchMethodError,
  RemoteError,
  RemoteErrorRegistry,
} from '../../../src/common/messaging/errors.ts';
import type { OpenBus } from './bus-conformance.ts';
import { TEST_TIMEOUT, uniqueTopic } from './support.ts';

class QuotaExceededError extends ForbiddenError {
  constructor(resource: string) {
    super(`quota exceeded for ${resource}`, 'compute.quota_exceeded');
  }
}

export function remoteErrorConformance(open: OpenBus): void {
  const remoteErrors: { name: string; thrown: () => Error; check: (err: unknown) => void }[] = [
    {
      name: 'a NotFoundError comes back as a NotFoundError',
      thrown: () =>
        new NotFoundError('instance 42 could not be found', 'compute.instance_not_found'),
      check: (err) => {
        assert.ok(err instanceof NotFoundError && err instanceof ApiError);
        assert.equal(err.name, 'NotFoundError');
        assert.equal(err.status, 404);
        assert.equal(err.code, 'compute.instance_not_found');
        assert.equal(err.message, 'instance 42 could not be found');
      },
    },
    {
      name: 'a ConflictError keeps its details',
      thrown: () =>
        new ConflictError('busy', 'compute.instance_busy', {
          details: { task_state: 'spawning' },
        }),
      check: (err) => {
        assert.ok(err instanceof ConflictError);
        assert.deepEqual(err.details, { task_state: 'spawning' });
      },
    },
    {
      name: 'a MethodNotAllowedError keeps its headers',
      thrown: () => new MethodNotAllowedError('PATCH', ['GET', 'PUT']),
      check: (err) => {
        assert.ok(err instanceof MethodNotAllowedError);
        assert.deepEqual(err.headers, { allow: 'GET, PUT' });
      },
    },
    {
      name: 'a class the caller registered comes back as that class',
      thrown: () => new QuotaExceededError('cores'),
      check: (err) => {
        assert.ok(err instanceof QuotaExceededError && err instanceof ForbiddenError);
        assert.equal(err.code, 'compute.quota_exceeded');
        assert.equal(err.message, 'quota exceeded for cores');
      },
    },
    {
      name: 'an unregistered class comes back as RemoteError with the remote name',
      thrown: () => new TypeError("Cannot read properties of undefined (reading 'id')"),
      check: (err) => {
        assert.ok(err instanceof RemoteError);
        assert.equal(err.remoteName, 'TypeError');
        assert.equal(err.status, 500);
        assert.equal(err.message, "Cannot read properties of undefined (reading 'id')");
      },
    },
    {
      name: 'an unregistered ApiError keeps its status and code in the RemoteError',
      thrown: () =>
        new (class ImageTooBigError extends ApiError {})(413, 'image.too_big', 'image too big'),
      check: (err) => {
        assert.ok(err instanceof RemoteError);
        assert.equal(err.remoteName, 'ImageTooBigError');
        assert.equal(err.status, 413);
        assert.equal(err.code, 'image.too_big');
      },
    },
  ];
  for (const { name, thrown, check } of remoteErrors) {
    it(`re-raises a remote error: ${name}`, TEST_TIMEOUT, async () => {
      const errors = RemoteErrorRegistry.withDefaults().register(QuotaExceededError);
      const [server, client] = [await open(), await open({ errors })];
      const topic = uniqueTopic();
      await server.serve(
        { topic },
        {
          fail: () => {
            throw thrown();
          },
        },
      );
      const err = await client.call({ topic }, 'fail').then(
        () => assert.fail('the call succeeded'),
        (caught: unknown) => caught,
      );
      check(err);
    });
  }

  it(
    'raises NoSuchMethodError for a method the server lacks, also an Object one',
    TEST_TIMEOUT,
    async () => {
      const [server, client] = [await open(), await open()];
      const topic = uniqueTopic();
      await server.serve({ topic }, { known: () => 1 });
      for (const method of ['unknown', 'toString', 'constructor', '__proto__']) {
        await assert.rejects(client.call({ topic }, method), (err: unknown) => {
          assert.ok(err instanceof NoSuchMethodError, `${method}: ${String(err)}`);
          assert.match(err.message, new RegExp(`has no method '${method}'`));
          return true;
        });
      }
    },
  );
}
