import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, NotFoundError } from '../../../src/common/errors.ts';
import { renderError, type ErrorStyle } from '../../../src/common/http/error-shapes.ts';

const notFound = new NotFoundError('Network abc could not be found.', 'network.network_not_found');
const ctx = { requestId: 'req-00000000-0000-0000-0000-000000000001', accept: 'application/json' };

describe('error shapes: each service renders an error the way its upstream clients parse it', () => {
  const cases: { style: ErrorStyle; accept?: string; contentType: string; body: unknown }[] = [
    {
      style: 'nova',
      contentType: 'application/json',
      body: { itemNotFound: { code: 404, message: notFound.message } },
    },
    {
      style: 'keystone',
      contentType: 'application/json',
      body: { error: { code: 404, title: 'Not Found', message: notFound.message } },
    },
    {
      style: 'neutron',
      contentType: 'application/json',
      body: { NeutronError: { type: 'NetworkNotFound', message: notFound.message, detail: '' } },
    },
    {
      style: 'placement',
      contentType: 'application/json',
      body: {
        errors: [
          {
            status: 404,
            title: 'Not Found',
            detail: notFound.message,
            request_id: ctx.requestId,
            code: 'placement.undefined_code',
          },
        ],
      },
    },
    {
      style: 'heat',
      contentType: 'application/json',
      body: {
        explanation: notFound.message,
        code: 404,
        error: { message: notFound.message, traceback: null, type: 'NetworkNotFound' },
        title: 'Not Found',
      },
    },
    {
      style: 'glance',
      contentType: 'application/json',
      body: { message: notFound.message, code: '404 Not Found', title: 'Not Found' },
    },
  ];
  for (const c of cases) {
    it(`${c.style} renders a 404`, () => {
      const out = renderError(c.style, notFound, ctx);
      assert.ok(out.contentType.startsWith(c.contentType), out.contentType);
      assert.deepEqual(JSON.parse(out.body), c.body);
    });
  }

  it('glance answers plain text to a client that does not accept JSON', () => {
    const out = renderError('glance', notFound, { ...ctx, accept: 'text/plain' });
    assert.ok(out.contentType.startsWith('text/plain'));
    assert.match(out.body, /^404 Not Found\n\nNetwork abc could not be found\./);
  });

  it('swift renders HTML with the message escaped', () => {
    const out = renderError('swift', new NotFoundError('no <container>'), ctx);
    assert.equal(out.body, '<html><h1>Not Found</h1><p>no &#60;container&#62;</p></html>');
  });

  it('nova names the fault after the status, computeFault for statuses it has no name for', () => {
    assert.deepEqual(JSON.parse(renderError('nova', new ConflictError('busy'), ctx).body), {
      conflictingRequest: { code: 409, message: 'busy' },
    });
    const teapot = {
      ...notFound,
      status: 418,
      message: 'odd',
      code: 'x.y',
      details: undefined,
      headers: {},
    };
    assert.deepEqual(JSON.parse(renderError('nova', teapot as NotFoundError, ctx).body), {
      computeFault: { code: 418, message: 'odd' },
    });
  });

  it('placement keeps a placement.* code as the stable error code', () => {
    const err = new ConflictError('generation conflict', 'placement.concurrent_update');
    const body = JSON.parse(renderError('placement', err, ctx).body) as {
      errors: { code: string }[];
    };
    assert.equal(body.errors[0]?.code, 'placement.concurrent_update');
  });
});
