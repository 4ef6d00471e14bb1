import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../../src/common/http/app.ts';
import {
  formatVersion,
  useMicroversions,
  type MicroversionOptions,
} from '../../../src/common/http/microversion.ts';
import { silentLogger } from '../../../src/common/logging.ts';

const compute: MicroversionOptions = {
  serviceType: 'compute',
  min: '2.1',
  max: '2.93',
  legacyHeader: 'x-openstack-nova-api-version',
};

function buildApp() {
  const app = createApp({ service: 'compute', errorStyle: 'nova', logger: silentLogger() });
  void app.register(
    async (v2) => {
      useMicroversions(v2, compute);
      v2.get('/echo', async (request) => ({ version: formatVersion(request.apiVersion) }));
      v2.get('/new-thing', { config: { microversion: { min: '2.50' } } }, async () => ({
        ok: true,
      }));
      v2.get('/old-thing', { config: { microversion: { max: '2.35' } } }, async () => ({
        ok: true,
      }));
    },
    { prefix: '/v2.1' },
  );
  app.get('/', async () => ({ root: true }));
  return app;
}

describe('microversion negotiation', () => {
  const cases: {
    name: string;
    headers: Record<string, string>;
    status: number;
    version?: string;
    message?: RegExp;
  }[] = [
    { name: 'no header means the minimum', headers: {}, status: 200, version: '2.1' },
    {
      name: 'latest means the maximum',
      headers: { 'openstack-api-version': 'compute latest' },
      status: 200,
      version: '2.93',
    },
    {
      name: 'an exact version',
      headers: { 'openstack-api-version': 'compute 2.53' },
      status: 200,
      version: '2.53',
    },
    {
      name: 'several services in one header',
      headers: { 'openstack-api-version': 'placement 1.30, compute 2.60' },
      status: 200,
      version: '2.60',
    },
    {
      name: 'another service only means the minimum',
      headers: { 'openstack-api-version': 'volume 3.50' },
      status: 200,
      version: '2.1',
    },
    {
      name: 'the legacy Nova header',
      headers: { 'x-openstack-nova-api-version': '2.20' },
      status: 200,
      version: '2.20',
    },
    {
      name: 'the generic header wins over the legacy one',
      headers: { 'openstack-api-version': 'compute 2.40', 'x-openstack-nova-api-version': '2.20' },
      status: 200,
      version: '2.40',
    },
    {
      name: 'service type is case-insensitive',
      headers: { 'openstack-api-version': 'Compute 2.5' },
      status: 200,
      version: '2.5',
    },
    {
      name: 'above the maximum is a 406',
      headers: { 'openstack-api-version': 'compute 2.999' },
      status: 406,
      message:
        /Version 2\.999 is not supported by the API\. Minimum is 2\.1 and maximum is 2\.93\./,
    },
    {
      name: 'below the minimum is a 406',
      headers: { 'openstack-api-version': 'compute 2.0' },
      status: 406,
      message: /Minimum is 2\.1/,
    },
    {
      name: 'another major is a 406',
      headers: { 'openstack-api-version': 'compute 3.1' },
      status: 406,
      message: /3\.1/,
    },
    {
      name: 'garbage is a 400',
      headers: { 'openstack-api-version': 'compute 2.x' },
      status: 400,
      message: /invalid format/,
    },
    {
      name: 'a leading zero is a 400',
      headers: { 'openstack-api-version': 'compute 2.01' },
      status: 400,
      message: /invalid format/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const res = await buildApp().inject({ url: '/v2.1/echo', headers: c.headers });
      assert.equal(res.statusCode, c.status, res.body);
      assert.match(String(res.headers['vary']), /OpenStack-API-Version/);
      if (c.version !== undefined) {
        assert.deepEqual(JSON.parse(res.body), { version: c.version });
        assert.equal(res.headers['openstack-api-version'], `compute ${c.version}`);
        assert.equal(res.headers['x-openstack-nova-api-version'], c.version);
      } else {
        const fault = Object.values(JSON.parse(res.body) as Record<string, { message: string }>)[0];
        assert.match(fault?.message ?? '', c.message ?? /./);
      }
    });
  }

  it('a route declared for newer versions is a 404 below them and works from them on', async () => {
    const app = buildApp();
    const old = await app.inject({
      url: '/v2.1/new-thing',
      headers: { 'openstack-api-version': 'compute 2.49' },
    });
    assert.equal(old.statusCode, 404);
    assert.match(old.body, /API version 2\.49 is not supported on this method/);
    const ok = await app.inject({
      url: '/v2.1/new-thing',
      headers: { 'openstack-api-version': 'compute 2.50' },
    });
    assert.equal(ok.statusCode, 200);
  });

  it('a route removed in a later version is a 404 after it', async () => {
    const app = buildApp();
    assert.equal(
      (
        await app.inject({
          url: '/v2.1/old-thing',
          headers: { 'openstack-api-version': 'compute 2.35' },
        })
      ).statusCode,
      200,
    );
    assert.equal(
      (
        await app.inject({
          url: '/v2.1/old-thing',
          headers: { 'openstack-api-version': 'compute 2.36' },
        })
      ).statusCode,
      404,
    );
  });

  it('routes outside the versioned prefix are not negotiated', async () => {
    const res = await buildApp().inject({
      url: '/',
      headers: { 'openstack-api-version': 'compute 9.9' },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['openstack-api-version'], undefined);
  });
});
