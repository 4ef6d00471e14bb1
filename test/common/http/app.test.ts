import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Type from 'typebox';
import { BadRequestError } from '../../../src/common/errors.ts';
import { createApp, type App } from '../../../src/common/http/app.ts';
import type { ErrorStyle } from '../../../src/common/http/error-shapes.ts';
import { captureLogs } from '../../helpers/log-capture.ts';

const REQ_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An app with the routes the cases below exercise. */
function buildApp(
  style: ErrorStyle = 'nova',
  opts: { bodyLimit?: number } = {},
): { app: App; lines: () => Record<string, unknown>[] } {
  const { logger, lines } = captureLogs();
  const app = createApp({
    service: 'test',
    errorStyle: style,
    logger,
    requestIdAlias: 'x-compute-request-id',
    ...opts,
  });
  app.get('/things', async () => ({ things: [] }));
  app.post(
    '/things',
    {
      schema: {
        body: Type.Object({
          thing: Type.Object(
            {
              name: Type.String({ maxLength: 8 }),
              size: Type.Optional(Type.Integer({ minimum: 1 })),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request, reply) => reply.status(201).send({ thing: request.body.thing }),
  );
  app.get('/bad-input', async () => {
    throw new BadRequestError('flavorRef is not a valid flavor id.', 'compute.invalid_flavor');
  });
  app.get('/bug', async () => {
    throw new Error('secret internal detail at /srv/whatever.ts:12');
  });
  return { app, lines };
}

describe('http kit: request ids', () => {
  it('answers every response, errors included, with a fresh x-openstack-request-id and the service alias', async () => {
    const { app } = buildApp();
    for (const url of ['/things', '/missing']) {
      const res = await app.inject({ url });
      const id = res.headers['x-openstack-request-id'];
      assert.match(String(id), REQ_ID);
      assert.equal(res.headers['x-compute-request-id'], id);
    }
  });

  it('keeps a calling service request id as the global id on every log line, never as our own id', async () => {
    const { app, lines } = buildApp();
    const global = 'req-11111111-2222-3333-4444-555555555555';
    const res = await app.inject({
      url: '/bad-input',
      headers: { 'x-openstack-request-id': global },
    });
    const own = res.headers['x-openstack-request-id'];
    assert.notEqual(own, global);
    const requestLines = lines().filter((l) => l['request_id'] === own);
    assert.ok(requestLines.length >= 2, 'the failure and the access line');
    for (const line of requestLines) assert.equal(line['global_request_id'], global);
  });

  it('ignores a malformed incoming request id', async () => {
    const { app, lines } = buildApp();
    await app.inject({ url: '/things', headers: { 'x-openstack-request-id': 'req-<script>' } });
    assert.ok(lines().every((l) => !('global_request_id' in l)));
  });

  it('writes one access line per request with method, url and status', async () => {
    const { app, lines } = buildApp();
    await app.inject({ url: '/things?x=1' });
    const access = lines().filter((l) => l['msg'] === 'request');
    assert.equal(access.length, 1);
    assert.equal(access[0]?.['status'], 200);
    assert.equal(access[0]?.['url'], '/things?x=1');
    assert.equal(access[0]?.['service'], 'test');
  });
});

describe('http kit: errors in the service shape, never a stack trace', () => {
  it('404 for an unknown URL, in each service shape', async () => {
    const expectations: Record<ErrorStyle, (body: string) => void> = {
      nova: (b) =>
        assert.equal((JSON.parse(b) as { itemNotFound: { code: number } }).itemNotFound.code, 404),
      keystone: (b) => assert.equal((JSON.parse(b) as { error: { code: number } }).error.code, 404),
      neutron: (b) => assert.ok((JSON.parse(b) as { NeutronError: object }).NeutronError),
      placement: (b) =>
        assert.equal((JSON.parse(b) as { errors: { status: number }[] }).errors[0]?.status, 404),
      heat: (b) => assert.equal((JSON.parse(b) as { code: number }).code, 404),
      glance: (b) => assert.match(b, /404 Not Found/),
      swift: (b) => assert.match(b, /<h1>Not Found<\/h1>/),
    };
    for (const [style, check] of Object.entries(expectations)) {
      const { app } = buildApp(style as ErrorStyle);
      const res = await app.inject({ url: '/nowhere' });
      assert.equal(res.statusCode, 404, style);
      check(res.body);
    }
  });

  it('405 with an Allow header when the URL exists under other methods', async () => {
    const { app } = buildApp('keystone');
    const res = await app.inject({ method: 'DELETE', url: '/things' });
    assert.equal(res.statusCode, 405);
    assert.equal(res.headers['allow'], 'GET, HEAD, POST');
    assert.deepEqual(JSON.parse(res.body), {
      error: {
        code: 405,
        title: 'Method Not Allowed',
        message: 'The method DELETE is not supported for this URL.',
      },
    });
  });

  it('an ApiError keeps its status and message', async () => {
    const { app } = buildApp();
    const res = await app.inject({ url: '/bad-input' });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(JSON.parse(res.body), {
      badRequest: { code: 400, message: 'flavorRef is not a valid flavor id.' },
    });
  });

  it('anything else is a generic 500 that hides the detail from the client and logs it', async () => {
    const { app, lines } = buildApp();
    const res = await app.inject({ url: '/bug' });
    assert.equal(res.statusCode, 500);
    assert.doesNotMatch(res.body, /secret|whatever|at /);
    assert.deepEqual(JSON.parse(res.body), {
      computeFault: {
        code: 500,
        message: 'An unexpected error prevented the server from fulfilling your request.',
      },
    });
    const logged = lines().find((l) => l['level'] === 'error');
    assert.match(JSON.stringify(logged), /secret internal detail/);
  });

  const badBodies: {
    name: string;
    payload: string;
    contentType?: string;
    status: number;
    message: RegExp;
  }[] = [
    { name: 'malformed JSON', payload: '{"thing": ', status: 400, message: /not valid JSON/ },
    { name: 'empty JSON body', payload: '', status: 400, message: /empty/ },
    { name: 'wrong type', payload: '{"thing": {"name": 5}}', status: 400, message: /thing\.name/ },
    {
      name: 'missing field',
      payload: '{"thing": {}}',
      status: 400,
      message: /thing\.name.*required/,
    },
    {
      name: 'too long',
      payload: '{"thing": {"name": "aaaaaaaaaaaa"}}',
      status: 400,
      message: /thing\.name/,
    },
    {
      name: 'below minimum',
      payload: '{"thing": {"name": "a", "size": 0}}',
      status: 400,
      message: /thing\.size/,
    },
    {
      name: 'unknown field',
      payload: '{"thing": {"name": "a", "colour": 1}}',
      status: 400,
      message: /'colour' was unexpected/,
    },
    {
      name: 'not JSON at all',
      payload: 'name=a',
      contentType: 'text/plain',
      status: 415,
      message: /Content-Type/,
    },
  ];
  for (const c of badBodies) {
    it(`bad body (${c.name}) is a ${c.status} naming the problem`, async () => {
      const { app } = buildApp();
      const res = await app.inject({
        method: 'POST',
        url: '/things',
        payload: c.payload,
        headers: { 'content-type': c.contentType ?? 'application/json' },
      });
      assert.equal(res.statusCode, c.status, res.body);
      const body = JSON.parse(res.body) as Record<string, { code: number; message: string }>;
      const fault = Object.values(body)[0];
      assert.equal(fault?.code, c.status);
      assert.match(fault?.message ?? '', c.message);
    });
  }

  it('a body over the limit is a 413 in the service shape', async () => {
    const { app } = buildApp('neutron', { bodyLimit: 2048 });
    const res = await app.inject({
      method: 'POST',
      url: '/things',
      payload: JSON.stringify({ thing: { name: 'x'.repeat(4096) } }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 413);
    assert.equal(
      (JSON.parse(res.body) as { NeutronError: { message: string } }).NeutronError.message,
      'Request is too large.',
    );
  });

  it('router errors (over-long path parameter, bad percent-encoding) come in the service shape', async () => {
    const { app } = buildApp('keystone');
    app.get('/items/:id', async () => ({}));
    const long = await app.inject({ url: `/items/${'a'.repeat(300)}` });
    assert.equal(long.statusCode, 200, 'ids up to 1024 characters reach the route');
    const tooLong = await app.inject({ url: `/items/${'a'.repeat(2000)}` });
    assert.equal(tooLong.statusCode, 414);
    assert.equal((JSON.parse(tooLong.body) as { error: { code: number } }).error.code, 414);
    assert.match(String(tooLong.headers['x-openstack-request-id']), REQ_ID);
    const bad = await app.inject({ url: '/items/%E0%A4%A' });
    assert.equal(bad.statusCode, 400);
    assert.match(
      (JSON.parse(bad.body) as { error: { message: string } }).error.message,
      /percent-encoding/,
    );
  });

  it('a valid body still works', async () => {
    const { app } = buildApp();
    const res = await app.inject({
      method: 'POST',
      url: '/things',
      payload: { thing: { name: 'ok', size: 2 } },
    });
    assert.equal(res.statusCode, 201);
    assert.deepEqual(JSON.parse(res.body), { thing: { name: 'ok', size: 2 } });
  });
});
