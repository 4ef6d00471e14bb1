import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiError,
  MethodNotAllowedError,
  NotFoundError,
  StartupError,
} from '../../../src/common/errors.ts';
import {
  MessagingTimeoutError,
  NoSuchMethodError,
  RemoteError,
  RemoteErrorRegistry,
  toWireError,
  type WireError,
} from '../../../src/common/messaging/errors.ts';

describe('toWireError', () => {
  const cases: { name: string; thrown: unknown; wire: WireError }[] = [
    {
      name: 'an ApiError with its status, code and details',
      thrown: new NotFoundError('no server 1', 'compute.instance_not_found', {
        details: { id: 1 },
      }),
      wire: {
        name: 'NotFoundError',
        message: 'no server 1',
        code: 'compute.instance_not_found',
        status: 404,
        details: { id: 1 },
      },
    },
    {
      name: 'headers when there are some',
      thrown: new MethodNotAllowedError('PUT', ['GET']),
      wire: {
        name: 'MethodNotAllowedError',
        message: 'The method PUT is not supported for this URL.',
        code: 'common.method_not_allowed',
        status: 405,
        headers: { allow: 'GET' },
      },
    },
    {
      name: 'details that are not JSON stay behind',
      thrown: new ApiError(409, 'x.conflict', 'conflict', { details: { big: 1n } }),
      wire: { name: 'ApiError', message: 'conflict', code: 'x.conflict', status: 409 },
    },
    {
      name: 'a RemoteError under its remote name, for the next caller up',
      thrown: new RemoteError('KeyError', 'missing', {
        status: 500,
        code: 'messaging.remote_error',
      }),
      wire: { name: 'KeyError', message: 'missing', code: 'messaging.remote_error', status: 500 },
    },
    {
      name: 'a plain Error',
      thrown: new RangeError('out'),
      wire: { name: 'RangeError', message: 'out' },
    },
    {
      name: 'something not an Error',
      thrown: 'just a string',
      wire: { name: 'Error', message: 'just a string' },
    },
  ];
  for (const { name, thrown, wire } of cases) {
    it(name, () => assert.deepEqual(toWireError(thrown), wire));
  }
});

describe('RemoteErrorRegistry', () => {
  it('knows every error class of src/common/errors.ts, and NoSuchMethodError', () => {
    const registry = RemoteErrorRegistry.withDefaults();
    for (const name of [
      'ApiError',
      'NotFoundError',
      'ServiceUnavailableError',
      'StartupError',
      'NoSuchMethodError',
    ]) {
      assert.ok(registry.has(name), name);
    }
    // A caller's own timeout is its own; a remote one is a RemoteError, not a claim about this call.
    assert.equal(registry.has('MessagingTimeoutError'), false);
    assert.equal(registry.has('RemoteError'), false);
  });

  it('revives a registered class with its fields and the stack of the caller', () => {
    const err = RemoteErrorRegistry.withDefaults().revive({
      name: 'NotFoundError',
      message: 'gone',
      status: 404,
      code: 'image.not_found',
      details: { id: 'x' },
    });
    assert.ok(err instanceof NotFoundError);
    assert.deepEqual(
      {
        name: err.name,
        message: err.message,
        status: err.status,
        code: err.code,
        details: err.details,
      },
      {
        name: 'NotFoundError',
        message: 'gone',
        status: 404,
        code: 'image.not_found',
        details: { id: 'x' },
      },
    );
    assert.deepEqual(err.headers, {});
    assert.match(err.stack ?? '', /^NotFoundError: gone\n/);
    assert.match(err.stack ?? '', /errors\.test\.ts/);
  });

  it('revives a class outside the ApiError tree without HTTP fields', () => {
    const err = RemoteErrorRegistry.withDefaults().revive({
      name: 'StartupError',
      message: 'no db',
    });
    assert.ok(err instanceof StartupError);
    assert.equal(err.message, 'no db');
    assert.equal('status' in err, false);
  });

  it('turns an unknown name into a RemoteError that keeps status and code', () => {
    const err = RemoteErrorRegistry.withDefaults().revive({
      name: 'QuotaError',
      message: 'over',
      status: 403,
      code: 'q',
    });
    assert.ok(err instanceof RemoteError);
    assert.deepEqual(
      [err.remoteName, err.status, err.code, err.message],
      ['QuotaError', 403, 'q', 'over'],
    );
    const bare = RemoteErrorRegistry.withDefaults().revive({ name: 'TypeError', message: 'bug' });
    assert.ok(bare instanceof RemoteError);
    assert.deepEqual([bare.status, bare.code], [500, 'messaging.remote_error']);
  });

  it('refuses a second class under a name already taken', () => {
    const registry = new RemoteErrorRegistry().register(NotFoundError).register(NotFoundError);
    const Impostor = class NotFoundError extends ApiError {};
    assert.throws(() => registry.register(Impostor), /another error class named 'NotFoundError'/);
  });
});

describe('messaging errors', () => {
  it('MessagingTimeoutError names target, method and timeout, and is a 504', () => {
    const err = new MessagingTimeoutError({ topic: 'compute', server: 'host1' }, 'build', 5000);
    assert.equal(err.status, 504);
    assert.equal(err.code, 'messaging.timeout');
    assert.match(
      err.message,
      /^no reply from server 'host1' of topic 'compute' to 'build' within 5000 ms/,
    );
  });

  it('NoSuchMethodError names the method and the target', () => {
    assert.equal(
      new NoSuchMethodError('reboot', { topic: 'compute' }).message,
      "topic 'compute' has no method 'reboot'",
    );
  });
});
