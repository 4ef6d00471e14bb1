import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeNotification,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  type RequestBody,
} from '../../../src/common/messaging/wire.ts';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('wire', () => {
  it('round-trips a request and a reply', () => {
    const request: RequestBody = {
      kind: 'call',
      method: 'm',
      args: { a: [1, { b: null }] },
      context: { x: 'y' },
    };
    assert.deepEqual(decodeRequest(encodeRequest(request)), request);
    assert.deepEqual(decodeReply(encodeReply({ ok: true, result: null })), {
      ok: true,
      result: null,
    });
    assert.deepEqual(
      decodeReply(encodeReply({ ok: false, error: { name: 'E', message: 'm', status: 400 } })),
      {
        ok: false,
        error: { name: 'E', message: 'm', status: 400 },
      },
    );
  });

  const badRequests: { name: string; body: Buffer; error: RegExp }[] = [
    { name: 'not JSON', body: Buffer.from('{'), error: /malformed request: not JSON/ },
    { name: 'not an object', body: json([1]), error: /malformed request: not a JSON object/ },
    {
      name: 'an unknown kind',
      body: json({ kind: 'shout', method: 'm', args: {}, context: {} }),
      error: /kind "shout"/,
    },
    {
      name: 'no method',
      body: json({ kind: 'cast', args: {}, context: {} }),
      error: /method is not a string/,
    },
    {
      name: 'args an array',
      body: json({ kind: 'cast', method: 'm', args: [], context: {} }),
      error: /args is not an object/,
    },
    {
      name: 'no context',
      body: json({ kind: 'cast', method: 'm', args: {} }),
      error: /context is not an object/,
    },
  ];
  for (const { name, body, error } of badRequests) {
    it(`refuses a request with ${name}`, () => assert.throws(() => decodeRequest(body), error));
  }

  it('refuses a reply that is neither a result nor an error', () => {
    assert.throws(() => decodeReply(json({ ok: true })), /malformed reply/);
    assert.throws(() => decodeReply(json({ ok: false, error: 'x' })), /malformed reply/);
  });

  it('keeps only well-typed fields of a remote error', () => {
    const reply = decodeReply(
      json({ ok: false, error: { name: '', message: 7, status: 'x', headers: { a: 'b', c: 1 } } }),
    );
    assert.deepEqual(reply, {
      ok: false,
      error: { name: 'Error', message: '', headers: { a: 'b' } },
    });
  });

  const envelope = {
    message_id: 'id',
    publisher_id: 'p',
    event_type: 'e',
    priority: 'info',
    payload: {},
    timestamp: '2024-01-01T00:00:00.000Z',
  };
  it('decodes a notification envelope and refuses a broken one', () => {
    assert.deepEqual(decodeNotification(json(envelope)), envelope);
    assert.throws(
      () => decodeNotification(json({ ...envelope, priority: 'INFO' })),
      /unknown priority "INFO"/,
    );
    assert.throws(
      () => decodeNotification(json({ ...envelope, event_type: 3 })),
      /event_type is not a string/,
    );
    assert.throws(
      () => decodeNotification(json({ ...envelope, payload: 'x' })),
      /payload is not an object/,
    );
  });
});
