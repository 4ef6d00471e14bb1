/**
 * The network API on SQLite, PostgreSQL and MariaDB: the migration and one flow through every
 * resource (provider segments, IPv4 and SLAAC subnets, ports, security groups, tags, listing,
 * If-Match, quotas, deletes), then creates that race where PostgreSQL and MariaDB run the
 * transactions truly in parallel: addresses of a nearly full subnet, segmentation ids, and the
 * `default` security group of a new project.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { forEachDialect, freshDatabase } from '../helpers/databases.ts';
import { networkHarness, neutronError, type Harness, type Reply } from './harness.ts';

/** The `key` of each item of a list answer, in order. */
async function listed(h: Harness, url: string, key = 'name'): Promise<unknown[]> {
  const res = await h.call('GET', url);
  assert.equal(res.status, 200, `${url}: ${res.text}`);
  const collection = /^\/v2\.0\/([a-z-]+)/.exec(url)?.[1]?.replace(/-/g, '_') ?? '';
  return (res.body[collection] as Record<string, unknown>[]).map((item) => item[key]);
}

function statuses(replies: readonly Reply[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of replies) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

forEachDialect(
  'network: schema and queries',
  (dialect) => {
    it('runs networks, subnets, ports, groups, tags, listing, If-Match, quotas and deletes', async (t) => {
      const fresh = await freshDatabase(t, dialect);
      const h = await networkHarness(t, { databaseUrl: fresh.url });
      const p1 = h.token('p1');

      // Provider segments: a given VLAN id, the lowest free one, and a taken one.
      const vlan = await h.network('vlan', {
        'provider:network_type': 'vlan',
        'provider:physical_network': 'physnet1',
        'provider:segmentation_id': 1234,
      });
      assert.equal(vlan['provider:network_type'], 'vlan');
      assert.equal(vlan['provider:physical_network'], 'physnet1');
      assert.equal(vlan['provider:segmentation_id'], 1234);
      assert.equal(vlan.mtu, 1500);
      const next = await h.network('next', {
        'provider:network_type': 'vlan',
        'provider:physical_network': 'physnet1',
      });
      assert.equal(next['provider:segmentation_id'], 1000);
      const taken = await h.call('POST', '/v2.0/networks', {
        body: {
          network: {
            'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1',
            'provider:segmentation_id': 1234,
          },
        },
      });
      assert.equal(taken.status, 409, taken.text);
      assert.equal(neutronError(taken).type, 'SegmentationIdInUse');

      // Subnets: IPv4 and SLAAC IPv6.
      // Addresses past the pool are only ever given on request.
      const pool = { start: '198.18.0.2', end: '198.18.0.99' };
      const v4 = await h.subnet(vlan.id, '198.18.0.0/24', { name: 'v4', allocation_pools: [pool] });
      assert.equal(v4.gateway_ip, '198.18.0.1');
      assert.deepEqual(v4.allocation_pools, [pool]);
      const v6 = await h.subnet(vlan.id, '2001:db8::/64', {
        name: 'v6',
        ipv6_ra_mode: 'slaac',
        ipv6_address_mode: 'slaac',
      });
      assert.equal(v6.ipv6_address_mode, 'slaac');
      // In order of creation, which two subnets made in one millisecond may not show.
      assert.deepEqual(
        [...(await h.call('GET', `/v2.0/networks/${vlan.id}`)).body.network.subnets].sort(),
        [v4.id, v6.id].sort(),
      );

      // Ports: a fixed address and MAC, automatic ones, and the conflicts.
      const fixed = await h.port(vlan.id, {
        name: 'fixed',
        fixed_ips: [{ ip_address: '198.18.0.10' }],
        mac_address: 'FA:16:3E:11:22:33',
      });
      assert.equal(fixed.mac_address, 'fa:16:3e:11:22:33');
      assert.deepEqual(fixed.fixed_ips, [
        { subnet_id: v4.id, ip_address: '198.18.0.10' },
        { subnet_id: v6.id, ip_address: '2001:db8::f816:3eff:fe11:2233' },
      ]);
      assert.equal(fixed.security_groups.length, 1);
      const sameIp = await h.call('POST', '/v2.0/ports', {
        body: { port: { network_id: vlan.id, fixed_ips: [{ ip_address: '198.18.0.10' }] } },
      });
      assert.equal(sameIp.status, 409, sameIp.text);
      assert.equal(neutronError(sameIp).type, 'IpAddressAlreadyAllocated');
      const sameMac = await h.call('POST', '/v2.0/ports', {
        body: { port: { network_id: vlan.id, mac_address: 'fa:16:3e:11:22:33' } },
      });
      assert.equal(sameMac.status, 409, sameMac.text);
      assert.equal(neutronError(sameMac).type, 'MacAddressInUse');
      const names = ['d', 'b', 'e', 'a', 'c'];
      const ports: Record<string, any> = {};
      for (const name of names)
        ports[name] = await h.port(vlan.id, {
          name,
          device_owner: name === 'e' ? 'compute:nova' : '',
          admin_state_up: name !== 'b',
        });
      for (const name of names) {
        const ips = ports[name].fixed_ips;
        assert.equal(ips.length, 2);
        assert.match(ips[0].ip_address, /^198\.18\.0\.\d+$/);
        assert.match(ips[1].ip_address, /^2001:db8::f816:3eff:fe/);
      }
      const moved = await h.call('PUT', `/v2.0/ports/${ports['a'].id}`, {
        body: { port: { fixed_ips: [{ subnet_id: v4.id, ip_address: '198.18.0.200' }] } },
      });
      assert.equal(moved.status, 200, moved.text);
      assert.equal(moved.body.port.fixed_ips[0].ip_address, '198.18.0.200');
      assert.deepEqual(await listed(h, '/v2.0/ports?fixed_ips=ip_address%3D198.18.0.200'), ['a']);
      assert.deepEqual(
        await listed(h, `/v2.0/ports?fixed_ips=subnet_id%3D${v4.id}&sort_key=name`),
        ['a', 'b', 'c', 'd', 'e', 'fixed'],
      );
      assert.deepEqual(await listed(h, '/v2.0/ports?fixed_ips=ip_address_substr%3D0.200'), ['a']);
      // LIKE's wildcards in the substring are taken literally.
      assert.deepEqual(await listed(h, '/v2.0/ports?fixed_ips=ip_address_substr%3D0%25'), []);
      assert.deepEqual(await listed(h, '/v2.0/ports?fixed_ips=ip_address_substr%3D_'), []);

      // A security group with rules, and a duplicate rule.
      const group = await h.call('POST', '/v2.0/security-groups', {
        token: p1,
        body: { security_group: { name: 'web', description: 'web servers' } },
      });
      assert.equal(group.status, 201, group.text);
      const groupId = group.body.security_group.id as string;
      assert.equal(group.body.security_group.security_group_rules.length, 2);
      const rule = {
        security_group_id: groupId,
        direction: 'ingress',
        protocol: 'tcp',
        port_range_min: 80,
        port_range_max: 80,
        remote_ip_prefix: '0.0.0.0/0',
      };
      const created = await h.call('POST', '/v2.0/security-group-rules', {
        token: p1,
        body: { security_group_rule: rule },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.security_group_rule.port_range_min, 80);
      const again = await h.call('POST', '/v2.0/security-group-rules', {
        token: p1,
        body: { security_group_rule: rule },
      });
      assert.equal(again.status, 409);
      assert.equal(neutronError(again).type, 'SecurityGroupRuleExists');
      const icmp = await h.call('POST', '/v2.0/security-group-rules', {
        token: p1,
        body: {
          security_group_rule: {
            security_group_id: groupId,
            direction: 'ingress',
            ethertype: 'IPv6',
            protocol: 'icmp',
          },
        },
      });
      assert.equal(icmp.status, 201, icmp.text);
      assert.equal(icmp.body.security_group_rule.protocol, 'ipv6-icmp');
      assert.deepEqual(
        await listed(
          h,
          `/v2.0/security-group-rules?security_group_id=${groupId}&direction=ingress&sort_key=ethertype&sort_dir=desc`,
          'protocol',
        ),
        ['ipv6-icmp', 'tcp'],
      );
      const shownGroup = await h.call('GET', `/v2.0/security-groups/${groupId}`, { token: p1 });
      assert.equal(shownGroup.body.security_group.security_group_rules.length, 4);
      assert.deepEqual(
        (await h.call('GET', '/v2.0/security-groups?fields=name&sort_key=name', { token: p1 })).body
          .security_groups,
        [{ name: 'default' }, { name: 'web' }],
      );

      // Tags and the four tag filters.
      const tag = async (id: string, tags: string[]): Promise<void> => {
        const res = await h.call('PUT', `/v2.0/ports/${id}/tags`, { body: { tags } });
        assert.equal(res.status, 200, res.text);
      };
      await tag(ports['a'].id, ['red', 'warm']);
      await tag(ports['b'].id, ['blue']);
      await tag(ports['c'].id, ['red']);
      assert.equal((await h.call('PUT', `/v2.0/networks/${vlan.id}/tags/prod`)).status, 201);
      const byTag = (q: string): Promise<unknown[]> =>
        listed(h, `/v2.0/ports?network_id=${vlan.id}&sort_key=name&${q}`);
      assert.deepEqual(await byTag('tags=red,warm'), ['a']);
      assert.deepEqual(await byTag('tags=red'), ['a', 'c']);
      assert.deepEqual(await byTag('tags-any=blue,warm'), ['a', 'b']);
      assert.deepEqual(await byTag('not-tags=red'), ['b', 'd', 'e', 'fixed']);
      assert.deepEqual(await byTag('not-tags-any=red,blue'), ['d', 'e', 'fixed']);
      assert.deepEqual(await byTag('tags=red&not-tags=warm'), ['c']);
      assert.deepEqual(await listed(h, '/v2.0/networks?tags=prod'), ['vlan']);
      assert.deepEqual(await listed(h, '/v2.0/networks?not-tags=prod'), ['next']);

      // Filters (string, boolean, integer), sorting on several keys, fields.
      const byName = (q: string): Promise<unknown[]> => listed(h, `/v2.0/ports?${q}`);
      assert.deepEqual(await byName('sort_key=name&sort_dir=desc'), [
        'fixed',
        'e',
        'd',
        'c',
        'b',
        'a',
      ]);
      assert.deepEqual(await byName('name=a&name=c&name=x&sort_key=name&sort_dir=asc'), ['a', 'c']);
      assert.deepEqual(await byName('admin_state_up=False'), ['b']);
      assert.deepEqual(await byName('device_owner=compute%3Anova'), ['e']);
      assert.deepEqual(await byName('revision_number=1&sort_key=name'), ['d', 'e', 'fixed']);
      assert.deepEqual(
        await byName(
          'sort_key=admin_state_up&sort_dir=asc&sort_key=revision_number&sort_dir=desc&sort_key=name&sort_dir=asc',
        ),
        ['b', 'a', 'c', 'd', 'e', 'fixed'],
      );
      const trimmed = await h.call('GET', '/v2.0/ports?name=a&fields=id&fields=mac_address');
      assert.deepEqual(trimmed.body.ports, [
        { id: ports['a'].id, mac_address: ports['a'].mac_address },
      ]);
      assert.deepEqual(await listed(h, '/v2.0/subnets?ip_version=6'), ['v6']);
      assert.deepEqual(await listed(h, '/v2.0/networks?provider%3Asegmentation_id=1000&mtu=1500'), [
        'next',
      ]);

      // Pages: forward by the next links, with sort keys that tie, then backwards.
      const forward: string[] = [];
      let url =
        '/v2.0/ports?limit=2&sort_key=admin_state_up&sort_dir=desc&sort_key=name&sort_dir=asc';
      for (let i = 0; i < 6 && url !== ''; i++) {
        const page = (await h.call('GET', url)).body;
        assert.ok(page.ports.length <= 2);
        forward.push(...page.ports.map((p: { name: string }) => p.name));
        const link = (page.ports_links ?? []).find((l: { rel: string }) => l.rel === 'next');
        url = link ? new URL(link.href).pathname + new URL(link.href).search : '';
      }
      assert.deepEqual(forward, ['a', 'c', 'd', 'e', 'fixed', 'b']);
      const marker = ports['d'].id as string;
      assert.deepEqual(await byName(`limit=2&sort_key=name&sort_dir=asc&marker=${marker}`), [
        'e',
        'fixed',
      ]);
      assert.deepEqual(
        await byName(`limit=2&sort_key=name&sort_dir=asc&marker=${marker}&page_reverse=True`),
        ['b', 'c'],
      );
      assert.deepEqual(
        await byName(`limit=10&sort_key=name&sort_dir=desc&marker=${marker}&page_reverse=true`),
        ['fixed', 'e'],
      );
      const lost = await h.call(
        'GET',
        '/v2.0/ports?limit=1&marker=00000000-0000-0000-0000-000000000000',
      );
      assert.equal(lost.status, 404);

      // If-Match: a stale revision is refused with 412, on updates and deletes alike.
      const current = (await h.call('GET', `/v2.0/networks/${vlan.id}`)).body.network;
      const renamed = await h.call('PUT', `/v2.0/networks/${vlan.id}`, {
        headers: { 'if-match': `revision_number=${current.revision_number}` },
        body: { network: { name: 'renamed' } },
      });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal(renamed.body.network.revision_number, current.revision_number + 1);
      const stale = await h.call('PUT', `/v2.0/networks/${vlan.id}`, {
        headers: { 'if-match': `revision_number=${current.revision_number}` },
        body: { network: { name: 'again' } },
      });
      assert.equal(stale.status, 412);
      assert.equal(neutronError(stale).type, 'RevisionNumberConstraintFailed');
      const staleDelete = await h.call('DELETE', `/v2.0/ports/${ports['a'].id}`, {
        headers: { 'if-match': 'revision_number=1' },
      });
      assert.equal(staleDelete.status, 412);

      // Quotas: set, read back, used counts, and back to the defaults.
      const set = await h.call('PUT', '/v2.0/quotas/p1', {
        body: { quota: { network: 5, port: '50', security_group_rule: -1 } },
      });
      assert.equal(set.status, 200, set.text);
      assert.equal(set.body.quota.network, 5);
      assert.equal(set.body.quota.port, 50);
      const got = await h.call('GET', '/v2.0/quotas/p1', { token: p1 });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.quota.network, 5);
      assert.equal(got.body.quota.security_group_rule, -1);
      assert.equal(got.body.quota.subnet, 100);
      const details = await h.call('GET', '/v2.0/quotas/p1/details', { token: p1 });
      assert.deepEqual(details.body.quota.security_group, { limit: 10, used: 2, reserved: 0 });
      assert.deepEqual(
        (await h.call('GET', '/v2.0/quotas')).body.quotas.map((q: any) => q.project_id),
        ['p1'],
      );
      const below = await h.call('PUT', '/v2.0/quotas/p1', {
        body: { quota: { security_group: 1 } },
      });
      assert.equal(below.status, 400);
      assert.equal((await h.call('DELETE', '/v2.0/quotas/p1')).status, 204);
      assert.equal((await h.call('GET', '/v2.0/quotas/p1')).body.quota.network, 100);

      // Deletes: in use first, then in order, until nothing is left.
      const inUse = await h.call('DELETE', `/v2.0/networks/${vlan.id}`);
      assert.equal(inUse.status, 409);
      assert.equal(neutronError(inUse).type, 'NetworkInUse');
      const subnetInUse = await h.call('DELETE', `/v2.0/subnets/${v4.id}`);
      assert.equal(subnetInUse.status, 409);
      for (const port of [fixed, ...Object.values(ports)])
        assert.equal((await h.call('DELETE', `/v2.0/ports/${port.id}`)).status, 204);
      assert.deepEqual(await listed(h, '/v2.0/ports'), []);
      assert.equal((await h.call('DELETE', `/v2.0/subnets/${v6.id}`)).status, 204);
      assert.equal((await h.call('DELETE', `/v2.0/networks/${vlan.id}`)).status, 204);
      assert.equal((await h.call('DELETE', `/v2.0/networks/${next.id}`)).status, 204);
      assert.deepEqual(await listed(h, '/v2.0/networks'), []);
      assert.deepEqual(await listed(h, '/v2.0/subnets'), []);
      assert.equal(
        (
          await h.call(
            'DELETE',
            `/v2.0/security-group-rules/${created.body.security_group_rule.id}`,
          )
        ).status,
        204,
      );
      assert.equal(
        (await h.call('DELETE', `/v2.0/security-groups/${groupId}`, { token: p1 })).status,
        204,
      );
      assert.deepEqual(await listed(h, '/v2.0/security-groups?project_id=p1'), ['default']);
      // The segment freed by the delete is given again.
      const reused = await h.network('reused', {
        'provider:network_type': 'vlan',
        'provider:physical_network': 'physnet1',
      });
      assert.equal(reused['provider:segmentation_id'], 1000);
      // A second process on the same database: the migration is a no-op, the rows are there.
      const other = await networkHarness(t, { databaseUrl: fresh.url });
      assert.deepEqual(await listed(other, '/v2.0/networks'), ['reused']);
      assert.deepEqual(await listed(other, '/v2.0/security-groups?project_id=p1'), ['default']);
    });

    it('keeps racing creates apart: addresses, MACs, segments and the default group', async (t) => {
      const fresh = await freshDatabase(t, dialect);
      const h = await networkHarness(t, { databaseUrl: fresh.url });
      const net = await h.network('n');
      // 198.18.0.2 … .126 after the gateway: 125 addresses.
      const sub = await h.subnet(net.id, '198.18.0.0/25');
      const create = (): Promise<Reply> =>
        h.call('POST', '/v2.0/ports', { body: { port: { network_id: net.id } } });
      const first = await Promise.all(Array.from({ length: 100 }, create));
      assert.deepEqual(statuses(first), { 201: 100 }, first.find((r) => r.status !== 201)?.text);
      const rest = await Promise.all(Array.from({ length: 30 }, create));
      assert.deepEqual(
        statuses(rest),
        { 201: 25, 409: 5 },
        rest.find((r) => r.status >= 500)?.text,
      );
      for (const failed of rest.filter((r) => r.status === 409))
        assert.deepEqual(neutronError(failed), {
          type: 'IpAddressGenerationFailure',
          message: `No more IP addresses available on network ${net.id}.`,
          detail: '',
        });
      const ok = [...first, ...rest].filter((r) => r.status === 201).map((r) => r.body.port);
      const addresses = ok.map((p) => p.fixed_ips[0].ip_address as string);
      assert.equal(new Set(addresses).size, 125);
      const hosts = addresses.map((a) => Number(/^198\.18\.0\.(\d+)$/.exec(a)?.[1]));
      assert.ok(
        hosts.every((n) => n >= 2 && n <= 126),
        addresses.join(' '),
      );
      assert.equal(new Set(ok.map((p) => p.mac_address as string)).size, 125);
      // Every create used the one default group the first of them made.
      assert.equal(new Set(ok.map((p) => p.security_groups[0] as string)).size, 1);
      const stored = await h.call('GET', `/v2.0/ports?fixed_ips=subnet_id%3D${sub.id}&fields=id`);
      assert.equal(stored.body.ports.length, 125);

      // Twenty networks at once, VXLAN and VLAN, each on a segment of its own.
      const networks = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          h.call('POST', '/v2.0/networks', {
            body: {
              network: {
                name: `race-${i}`,
                ...(i % 2 === 0
                  ? {}
                  : { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1' }),
              },
            },
          }),
        ),
      );
      assert.deepEqual(
        statuses(networks),
        { 201: 20 },
        networks.find((r) => r.status !== 201)?.text,
      );
      const segments = (type: string): number[] =>
        networks
          .map((r) => r.body.network)
          .filter((n) => n['provider:network_type'] === type)
          .map((n) => n['provider:segmentation_id'] as number)
          .sort((a, b) => a - b);
      // The first network took VXLAN id 1.
      const vxlan = segments('vxlan');
      assert.equal(new Set(vxlan).size, 10);
      assert.ok(
        vxlan.every((id) => id >= 2 && id <= 65535),
        vxlan.join(' '),
      );
      const vlans = segments('vlan');
      assert.equal(new Set(vlans).size, 10);
      assert.ok(
        vlans.every((id) => id >= 1000 && id <= 2999),
        vlans.join(' '),
      );

      // A new project's first lists, all at once, make one default group between them.
      const fresher = h.token('newcomer');
      const lists = await Promise.all(
        Array.from({ length: 10 }, () =>
          h.call('GET', '/v2.0/security-groups', { token: fresher }),
        ),
      );
      assert.deepEqual(statuses(lists), { 200: 10 }, lists.find((r) => r.status !== 200)?.text);
      const ids = new Set(
        lists.flatMap((r) => r.body.security_groups.map((g: { id: string }) => g.id)),
      );
      assert.equal(ids.size, 1);
      for (const r of lists) assert.equal(r.body.security_groups[0].name, 'default');
      assert.deepEqual(await listed(h, '/v2.0/security-groups?project_id=newcomer', 'name'), [
        'default',
      ]);
      const rules = await listed(
        h,
        `/v2.0/security-group-rules?security_group_id=${[...ids][0] ?? ''}`,
        'direction',
      );
      assert.equal(rules.length, 4);

      // Creates racing for the last of a quota never take the project past it.
      const capped = h.token('capped');
      const setQuota = await Promise.all(
        Array.from({ length: 4 }, () =>
          h.call('PUT', '/v2.0/quotas/capped', { body: { quota: { network: 3 } } }),
        ),
      );
      assert.deepEqual(statuses(setQuota), { 200: 4 });
      const racing = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          h.call('POST', '/v2.0/networks', { token: capped, body: { network: { name: `q${i}` } } }),
        ),
      );
      assert.ok(
        racing.every((r) => r.status === 201 || r.status === 409),
        JSON.stringify(statuses(racing)),
      );
      const made = await listed(h, '/v2.0/networks?project_id=capped', 'name');
      assert.equal(made.length, 3, made.join(' '));
      assert.deepEqual(statuses(racing), { 201: 3, 409: 5 });
    });
  },
  { timeout: 60_000 },
);
