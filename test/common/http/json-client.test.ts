import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  JsonClient,
  UpstreamStatusError,
  UpstreamUnavailableError,
} from '../../../src/common/http/json-client.ts';

type Seen = { method: string; url: string; headers: IncomingMessage['headers']; body: string };

/** A loopback server that records each request and answers with what `answer` says. */
async function upstream(
  answer: (seen: Seen, res: ServerResponse) => void,
  host = '127.0.0.1',
): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { server, url: `http://${shown}:${port}`, seen };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const token = () => Promise.resolve('service-token');

describe('JsonClient', () => {
  let up: Awaited<ReturnType<typeof upstream>>;
  before(async () => {
    up = await upstream((seen, res) => {
      if (seen.url.endsWith('/missing'))
        json(res, 404, { itemNotFound: { code: 404, message: 'Thing x could not be found.' } });
      else if (seen.url.endsWith('/empty')) res.writeHead(204).end();
      else if (seen.url.endsWith('/plain')) res.writeHead(409).end('just text');
      else json(res, 200, { echo: { method: seen.method, url: seen.url, body: seen.body } });
    });
  });
  after(() => up.server.close());

  it('sends the token, the request id and a JSON body, and parses the answer', async () => {
    const client = new JsonClient({ service: 'thing', baseUrl: up.url, token });
    const reply = await client.request('POST', '/things?x=1', {
      body: { thing: { name: 'é' } },
      globalRequestId: 'req-0a1b2c3d-0000-4000-8000-000000000000',
    });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, {
      echo: { method: 'POST', url: '/things?x=1', body: '{"thing":{"name":"é"}}' },
    });
    const seen = up.seen.at(-1);
    assert.equal(seen?.headers['x-auth-token'], 'service-token');
    assert.equal(
      seen?.headers['x-openstack-request-id'],
      'req-0a1b2c3d-0000-4000-8000-000000000000',
    );
    assert.equal(seen?.headers['content-type'], 'application/json');
    // The length counts bytes, not characters ('é' is two).
    assert.equal(seen?.headers['content-length'], String(Buffer.byteLength(seen.body)));
  });

  it("keeps the base URL's path and uses a caller's token over the service's", async () => {
    const client = new JsonClient({ service: 'thing', baseUrl: `${up.url}/v2.1/`, token });
    const reply = await client.request('GET', '/servers', { token: 'user-token' });
    assert.deepEqual(reply.body, { echo: { method: 'GET', url: '/v2.1/servers', body: '' } });
    assert.equal(up.seen.at(-1)?.headers['x-auth-token'], 'user-token');
  });

  it('sends a raw body as it is, with its content type', async () => {
    const client = new JsonClient({ service: 'image', baseUrl: up.url, token });
    await client.request('PUT', '/file', {
      raw: { contentType: 'application/octet-stream', data: new TextEncoder().encode('abc') },
    });
    const seen = up.seen.at(-1);
    assert.equal(seen?.body, 'abc');
    assert.equal(seen?.headers['content-type'], 'application/octet-stream');
  });

  it('gives an empty answer as undefined, and an expected error status as a reply', async () => {
    const client = new JsonClient({ service: 'thing', baseUrl: up.url, token });
    assert.deepEqual(await client.request('DELETE', '/empty'), { status: 204, body: undefined });
    const missing = await client.request('GET', '/missing', { expect: [200, 404] });
    assert.equal(missing.status, 404);
  });

  const refusals = [
    {
      name: 'a Nova-shaped error',
      path: '/missing',
      status: 404,
      message: 'Thing x could not be found.',
    },
    { name: 'a text error', path: '/plain', status: 409, message: 'just text' },
  ];
  for (const c of refusals)
    it(`turns ${c.name} into an UpstreamStatusError with the upstream's message`, async () => {
      const client = new JsonClient({ service: 'thing', baseUrl: up.url, token });
      await assert.rejects(client.request('GET', c.path), (err: unknown) => {
        assert.ok(err instanceof UpstreamStatusError);
        assert.equal(err.status, c.status);
        assert.equal(err.service, 'thing');
        assert.equal(err.upstreamMessage, c.message);
        return true;
      });
    });

  it('works over IPv6 loopback', async () => {
    const v6 = await upstream((_, res) => json(res, 200, { ok: true }), '::1');
    try {
      const client = new JsonClient({ service: 'thing', baseUrl: v6.url, token });
      assert.deepEqual((await client.request('GET', '/x')).body, { ok: true });
    } finally {
      v6.server.close();
    }
  });

  it('sends again on a new connection when the server closed the idle one', async () => {
    // The server drops a connection when a second request arrives on it, as one whose
    // keep-alive timeout ran out just as the client reused the connection would.
    const answered: string[] = [];
    const used = new WeakSet<object>();
    const closing = await upstream((seen, res) => {
      const socket = res.socket;
      if (socket && used.has(socket)) {
        socket.destroy();
        return;
      }
      if (socket) used.add(socket);
      answered.push(seen.body);
      json(res, 200, { n: seen.body });
    });
    try {
      const client = new JsonClient({ service: 'thing', baseUrl: closing.url, token });
      for (let i = 0; i < 5; i++) {
        const reply = await client.request('POST', '/x', { body: i });
        assert.deepEqual(reply.body, { n: String(i) });
      }
      assert.deepEqual(answered, ['0', '1', '2', '3', '4']);
      // Each request after the first met a dropped connection and went again.
      assert.equal(closing.seen.length, 9);
    } finally {
      closing.server.close();
    }
  });

  it('reports an upstream that does not answer in time as unavailable', async () => {
    const silent = await upstream(() => undefined);
    try {
      const client = new JsonClient({
        service: 'thing',
        baseUrl: silent.url,
        token,
        timeoutMs: 100,
      });
      await assert.rejects(client.request('GET', '/slow'), (err: unknown) => {
        assert.ok(err instanceof UpstreamUnavailableError);
        assert.match(err.message, /^thing is unavailable: GET \/slow: /);
        return true;
      });
    } finally {
      silent.server.closeAllConnections();
      silent.server.close();
    }
  });

  it('reports an upstream nobody listens on as unavailable', async () => {
    const gone = await upstream(() => undefined);
    const url = gone.url;
    await new Promise((resolve) => gone.server.close(resolve));
    const client = new JsonClient({ service: 'thing', baseUrl: url, token });
    await assert.rejects(
      client.request('GET', '/x'),
      (err: unknown) => err instanceof UpstreamUnavailableError && /ECONNREFUSED/.test(err.message),
    );
  });
});
