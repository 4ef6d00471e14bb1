/**
 * Security groups and rules over HTTP: the `default` group each project gets on first use, the two
 * egress rules of a new group, what may not happen to the default group, rule validation as
 * upstream converts and checks it, duplicate rules, revisions, filters, isolation between
 * projects, tags, and the body checks of Neutron's API layer.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkHarness, neutronError, type Harness, type Reply } from './harness.ts';

const MISSING = '00000000-0000-0000-0000-000000000000';

/** Rules in a stable order: direction, then ethertype. */
function byDirection(rules: any[]): any[] {
  return [...rules].sort((a, b) =>
    `${a.direction}/${a.ethertype}`.localeCompare(`${b.direction}/${b.ethertype}`),
  );
}

/** The shape of a rule without its own id and timestamps. */
function shape(rule: any): Record<string, unknown> {
  return {
    direction: rule.direction,
    ethertype: rule.ethertype,
    protocol: rule.protocol,
    port_range_min: rule.port_range_min,
    port_range_max: rule.port_range_max,
    remote_ip_prefix: rule.remote_ip_prefix,
    remote_group_id: rule.remote_group_id,
    remote_address_group_id: rule.remote_address_group_id,
    normalized_cidr: rule.normalized_cidr,
    description: rule.description,
  };
}

const ANY_RULE = {
  protocol: null,
  port_range_min: null,
  port_range_max: null,
  remote_ip_prefix: null,
  remote_address_group_id: null,
  normalized_cidr: null,
};

/** Every project's default group, as the admin sees them. */
async function defaultGroups(h: Harness, project: string): Promise<any[]> {
  const all = (await h.call('GET', '/v2.0/security-groups?name=default')).body.security_groups;
  return all.filter((g: any) => g.project_id === project);
}

async function group(h: Harness, token: string, name: string): Promise<any> {
  const res = await h.call('POST', '/v2.0/security-groups', {
    token,
    body: { security_group: { name } },
  });
  assert.equal(res.status, 201, res.text);
  return res.body.security_group;
}

function postRule(h: Harness, token: string, rule: Record<string, unknown>): Promise<Reply> {
  return h.call('POST', '/v2.0/security-group-rules', {
    token,
    body: { security_group_rule: rule },
  });
}

describe('network: security groups', () => {
  describe('creates the default group on first use', () => {
    const triggers: { name: string; act: (h: Harness, token: string) => Promise<unknown> }[] = [
      {
        name: 'listing groups',
        act: (h, token) => h.call('GET', '/v2.0/security-groups', { token }),
      },
      {
        name: 'listing rules',
        act: (h, token) => h.call('GET', '/v2.0/security-group-rules', { token }),
      },
      {
        name: 'creating a port',
        act: async (h, token) => {
          const net = await h.network('n', {}, token);
          await h.port(net.id, {}, token);
        },
      },
      { name: 'creating another group', act: (h, token) => group(h, token, 'web') },
    ];
    for (const trigger of triggers)
      it(trigger.name, async (t) => {
        const h = await networkHarness(t);
        const p1 = h.token('p1');
        assert.deepEqual(await defaultGroups(h, 'p1'), []);
        await trigger.act(h, p1);
        await trigger.act(h, p1);
        const [sg, ...more] = await defaultGroups(h, 'p1');
        assert.deepEqual(more, []);
        assert.equal(sg.name, 'default');
        assert.equal(sg.description, 'Default security group');
        assert.equal(sg.stateful, true);
        assert.equal(sg.shared, false);
        assert.deepEqual(sg.tags, []);
        assert.equal(sg.tenant_id, 'p1');
        const rules = byDirection(sg.security_group_rules);
        assert.deepEqual(
          rules.map(shape),
          [
            { direction: 'egress', ethertype: 'IPv4', ...ANY_RULE, remote_group_id: null },
            { direction: 'egress', ethertype: 'IPv6', ...ANY_RULE, remote_group_id: null },
            { direction: 'ingress', ethertype: 'IPv4', ...ANY_RULE, remote_group_id: sg.id },
            { direction: 'ingress', ethertype: 'IPv6', ...ANY_RULE, remote_group_id: sg.id },
          ].map((r) => ({ ...r, description: null })),
        );
        for (const rule of rules) {
          assert.equal(rule.security_group_id, sg.id);
          assert.equal(rule.project_id, 'p1');
          assert.equal(rule.belongs_to_default_sg, true);
        }
      });

    it('not for another project a member names', async (t) => {
      const h = await networkHarness(t);
      const listed = await h.call('GET', '/v2.0/security-groups?project_id=p2', {
        token: h.token('p1'),
      });
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.security_groups, []);
      assert.deepEqual(await defaultGroups(h, 'p2'), []);
      // An admin naming the project does create it.
      await h.call('GET', '/v2.0/security-group-rules?project_id=p2');
      assert.equal((await defaultGroups(h, 'p2')).length, 1);
    });
  });

  it('gives a new group two egress rules and keeps the name default for the default group', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const web = await group(h, p1, 'web');
    assert.equal(web.description, '');
    assert.equal(web.stateful, true);
    assert.equal(web.project_id, 'p1');
    assert.deepEqual(
      byDirection(web.security_group_rules).map(shape),
      [
        { direction: 'egress', ethertype: 'IPv4', ...ANY_RULE, remote_group_id: null },
        { direction: 'egress', ethertype: 'IPv6', ...ANY_RULE, remote_group_id: null },
      ].map((r) => ({ ...r, description: null })),
    );
    assert.ok(web.security_group_rules.every((r: any) => r.belongs_to_default_sg === false));
    for (const name of ['default', 'Default', 'DEFAULT']) {
      const res = await h.call('POST', '/v2.0/security-groups', {
        token: p1,
        body: { security_group: { name } },
      });
      assert.equal(res.status, 409, name);
      assert.deepEqual(neutronError(res), {
        type: 'SecurityGroupDefaultAlreadyExists',
        message: 'Default security group already exists.',
        detail: '',
      });
    }
    const rename = await h.call('PUT', `/v2.0/security-groups/${web.id}`, {
      token: p1,
      body: { security_group: { name: 'Default' } },
    });
    assert.equal(rename.status, 409);
    assert.equal(neutronError(rename).type, 'SecurityGroupDefaultAlreadyExists');
    const renamed = await h.call('PUT', `/v2.0/security-groups/${web.id}`, {
      token: p1,
      body: { security_group: { name: 'www', description: 'web servers' } },
    });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.security_group.name, 'www');
    assert.equal(renamed.body.security_group.description, 'web servers');
    assert.equal(renamed.body.security_group.revision_number, web.revision_number + 1);
  });

  it('lets nobody rename the default group and only an admin delete it', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const [sg] = (await h.call('GET', '/v2.0/security-groups', { token: p1 })).body.security_groups;
    for (const token of [p1, h.admin]) {
      const rename = await h.call('PUT', `/v2.0/security-groups/${sg.id}`, {
        token,
        body: { security_group: { name: 'other' } },
      });
      assert.equal(rename.status, 409);
      assert.deepEqual(neutronError(rename), {
        type: 'SecurityGroupCannotUpdateDefault',
        message: 'Updating default security group not allowed.',
        detail: '',
      });
    }
    const described = await h.call('PUT', `/v2.0/security-groups/${sg.id}`, {
      token: p1,
      body: { security_group: { description: 'mine' } },
    });
    assert.equal(described.status, 200);
    assert.equal(described.body.security_group.description, 'mine');
    // Its rules may go one by one.
    const ingress = sg.security_group_rules.find((r: any) => r.direction === 'ingress');
    assert.equal(
      (await h.call('DELETE', `/v2.0/security-group-rules/${ingress.id}`, { token: p1 })).status,
      204,
    );
    const refused = await h.call('DELETE', `/v2.0/security-groups/${sg.id}`, { token: p1 });
    assert.equal(refused.status, 409);
    assert.deepEqual(neutronError(refused), {
      type: 'SecurityGroupCannotRemoveDefault',
      message: 'Insufficient rights for removing default security group.',
      detail: '',
    });
    assert.equal((await h.call('DELETE', `/v2.0/security-groups/${sg.id}`)).status, 204);
    // The next use makes a new one.
    const [again] = (await h.call('GET', '/v2.0/security-groups', { token: p1 })).body
      .security_groups;
    assert.equal(again.name, 'default');
    assert.notEqual(again.id, sg.id);
    assert.equal(again.security_group_rules.length, 4);
  });

  it('refuses to delete a group a port uses, or to change its statefulness', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const web = await group(h, p1, 'web');
    const net = await h.network('n', {}, p1);
    await h.subnet(net.id, '198.18.0.0/24', {}, p1);
    const port = await h.port(net.id, { security_groups: [web.id] }, p1);
    assert.deepEqual(port.security_groups, [web.id]);
    const busy = await h.call('DELETE', `/v2.0/security-groups/${web.id}`, { token: p1 });
    assert.equal(busy.status, 409);
    assert.deepEqual(neutronError(busy), {
      type: 'SecurityGroupInUse',
      message: `Security Group ${web.id} in use.`,
      detail: '',
    });
    // Even an admin may not remove the default group while a port uses it.
    const [sg] = await defaultGroups(h, 'p1');
    await h.port(net.id, {}, p1);
    const busyDefault = await h.call('DELETE', `/v2.0/security-groups/${sg.id}`);
    assert.equal(neutronError(busyDefault).type, 'SecurityGroupInUse');
    const stateless = await h.call('PUT', `/v2.0/security-groups/${web.id}`, {
      token: p1,
      body: { security_group: { stateful: false } },
    });
    assert.equal(stateless.status, 409);
    assert.equal(neutronError(stateless).type, 'SecurityGroupInUse');
    assert.equal((await h.call('DELETE', `/v2.0/ports/${port.id}`, { token: p1 })).status, 204);
    assert.equal(
      (await h.call('DELETE', `/v2.0/security-groups/${web.id}`, { token: p1 })).status,
      204,
    );
    const gone = await h.call('GET', `/v2.0/security-groups/${web.id}`, { token: p1 });
    assert.equal(gone.status, 404);
    assert.deepEqual(neutronError(gone), {
      type: 'SecurityGroupNotFound',
      message: `Security group ${web.id} does not exist`,
      detail: '',
    });
  });

  describe('creates rules as upstream converts them', () => {
    type Ids = { group: string; other: string };
    const cases: {
      name: string;
      rule: (ids: Ids) => Record<string, unknown>;
      want: (ids: Ids) => Record<string, unknown>;
    }[] = [
      {
        name: 'a protocol by name, lowercased',
        rule: () => ({ protocol: 'TCP', port_range_min: 80, port_range_max: 80 }),
        want: () => ({ protocol: 'tcp', port_range_min: 80, port_range_max: 80 }),
      },
      {
        name: 'a protocol number stays a number in text',
        rule: () => ({ protocol: 6, port_range_min: 22, port_range_max: 22 }),
        want: () => ({ protocol: '6', port_range_min: 22, port_range_max: 22 }),
      },
      {
        name: 'a protocol number as text',
        rule: () => ({ protocol: '132' }),
        want: () => ({ protocol: '132' }),
      },
      {
        name: 'any is no protocol',
        rule: () => ({ protocol: 'any' }),
        want: () => ({ protocol: null }),
      },
      {
        name: 'icmp with IPv6 becomes ipv6-icmp',
        rule: () => ({ ethertype: 'IPv6', protocol: 'icmp' }),
        want: () => ({ ethertype: 'IPv6', protocol: 'ipv6-icmp' }),
      },
      {
        name: 'icmpv6 becomes ipv6-icmp',
        rule: () => ({ ethertype: 'IPv6', protocol: 'icmpv6' }),
        want: () => ({ ethertype: 'IPv6', protocol: 'ipv6-icmp' }),
      },
      {
        name: 'protocol 1 with IPv6 becomes 58',
        rule: () => ({ ethertype: 'IPv6', protocol: '1' }),
        want: () => ({ ethertype: 'IPv6', protocol: '58' }),
      },
      {
        name: 'the ethertype in any case',
        rule: () => ({ ethertype: 'ipv6' }),
        want: () => ({ ethertype: 'IPv6' }),
      },
      {
        name: 'ports as text',
        rule: () => ({ protocol: 'udp', port_range_min: '5000', port_range_max: '5001' }),
        want: () => ({ protocol: 'udp', port_range_min: 5000, port_range_max: 5001 }),
      },
      {
        name: 'the whole port range is no range',
        rule: () => ({ protocol: 'tcp', port_range_min: 1, port_range_max: 65535 }),
        want: () => ({ protocol: 'tcp', port_range_min: null, port_range_max: null }),
      },
      {
        name: 'ICMP type and code',
        rule: () => ({ protocol: 'icmp', port_range_min: 8, port_range_max: 0 }),
        want: () => ({ protocol: 'icmp', port_range_min: 8, port_range_max: 0 }),
      },
      {
        name: 'an ICMP type alone',
        rule: () => ({ protocol: 'icmp', port_range_min: 3 }),
        want: () => ({ protocol: 'icmp', port_range_min: 3, port_range_max: null }),
      },
      {
        name: 'a bare IPv4 address gets /32',
        rule: () => ({ remote_ip_prefix: '192.168.1.10' }),
        want: () => ({ remote_ip_prefix: '192.168.1.10/32', normalized_cidr: '192.168.1.10/32' }),
      },
      {
        name: 'a bare IPv6 address gets /128',
        rule: () => ({ ethertype: 'IPv6', remote_ip_prefix: '2001:db8::1' }),
        want: () => ({
          ethertype: 'IPv6',
          remote_ip_prefix: '2001:db8::1/128',
          normalized_cidr: '2001:db8::1/128',
        }),
      },
      {
        name: 'host bits are kept, and cleared in normalized_cidr',
        rule: () => ({ remote_ip_prefix: '10.0.0.1/24' }),
        want: () => ({ remote_ip_prefix: '10.0.0.1/24', normalized_cidr: '10.0.0.0/24' }),
      },
      {
        name: 'a remote group',
        rule: (ids) => ({ remote_group_id: ids.other }),
        want: (ids) => ({ remote_group_id: ids.other }),
      },
      {
        name: 'a description',
        rule: () => ({ description: 'from anywhere' }),
        want: () => ({ description: 'from anywhere' }),
      },
    ];
    for (const c of cases)
      it(c.name, async (t) => {
        const h = await networkHarness(t);
        const p1 = h.token('p1');
        const ids = { group: (await group(h, p1, 'g')).id, other: (await group(h, p1, 'o')).id };
        const res = await postRule(h, p1, {
          security_group_id: ids.group,
          direction: 'ingress',
          ...c.rule(ids),
        });
        assert.equal(res.status, 201, res.text);
        const rule = res.body.security_group_rule;
        const want = {
          direction: 'ingress',
          ethertype: 'IPv4',
          ...ANY_RULE,
          remote_group_id: null,
          description: '',
          ...c.want(ids),
        };
        assert.deepEqual(shape(rule), shape(want));
        assert.equal(rule.security_group_id, ids.group);
        assert.equal(rule.project_id, 'p1');
        assert.equal(rule.tenant_id, 'p1');
        assert.equal(rule.belongs_to_default_sg, false);
        assert.equal(rule.revision_number, 1);
        assert.match(rule.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        const shown = await h.call('GET', `/v2.0/security-group-rules/${rule.id}`, { token: p1 });
        assert.deepEqual(shown.body.security_group_rule, rule);
      });
  });

  it('refuses rules upstream refuses, with its error types and words', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const sg = (await group(h, p1, 'g')).id;
    const other = (await group(h, h.token('p2'), 'theirs')).id;
    const protocols =
      "(None, 'any', 'ah', 'dccp', 'egp', 'esp', 'gre', 'hopopt', 'icmp', 'igmp', 'ip', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp')";
    const cases: {
      name: string;
      rule: Record<string, unknown>;
      status: number;
      type: string;
      message: string;
    }[] = [
      {
        name: 'unknown protocol name',
        rule: { protocol: 'foo' },
        status: 400,
        type: 'SecurityGroupRuleInvalidProtocol',
        message: `Security group rule protocol foo not supported. Only protocol values ${protocols} and integer representations [0 to 255] are supported.`,
      },
      {
        name: 'protocol number past 255',
        rule: { protocol: 256 },
        status: 400,
        type: 'SecurityGroupRuleInvalidProtocol',
        message: `Security group rule protocol 256 not supported. Only protocol values ${protocols} and integer representations [0 to 255] are supported.`,
      },
      {
        name: 'min above max',
        rule: { protocol: 'tcp', port_range_min: 90, port_range_max: 80 },
        status: 400,
        type: 'SecurityGroupInvalidPortRange',
        message: 'For TCP/UDP protocols, port_range_min must be <= port_range_max',
      },
      {
        name: 'a minimum without maximum for udp',
        rule: { protocol: 'udp', port_range_min: 53 },
        status: 400,
        type: 'SecurityGroupInvalidPortRange',
        message: 'For TCP/UDP protocols, port_range_min must be <= port_range_max',
      },
      {
        name: 'port 0 for tcp',
        rule: { protocol: 'tcp', port_range_min: 0, port_range_max: 80 },
        status: 400,
        type: 'SecurityGroupInvalidPortValue',
        message: 'Invalid value for port 0',
      },
      {
        name: 'a port past 65535',
        rule: { protocol: 'tcp', port_range_min: 80, port_range_max: 70000 },
        status: 400,
        type: 'SecurityGroupInvalidPortValue',
        message: 'Invalid value for port 70000',
      },
      {
        name: 'a port that is not a number',
        rule: { protocol: 'tcp', port_range_min: 'http', port_range_max: 80 },
        status: 400,
        type: 'SecurityGroupInvalidPortValue',
        message: 'Invalid value for port http',
      },
      {
        name: 'ports without a protocol',
        rule: { port_range_min: 80, port_range_max: 80 },
        status: 400,
        type: 'SecurityGroupProtocolRequiredWithPorts',
        message: 'Must also specify protocol if port range is given.',
      },
      {
        name: 'ports for gre',
        rule: { protocol: 'gre', port_range_min: 80, port_range_max: 80 },
        status: 400,
        type: 'SecurityGroupInvalidProtocolForPort',
        message:
          'Ports cannot be specified for protocol 47. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.',
      },
      {
        name: 'ICMP type past 255',
        rule: { protocol: 'icmp', port_range_min: 256 },
        status: 400,
        type: 'SecurityGroupInvalidIcmpValue',
        message: 'Invalid value for ICMP type (port_range_min) 256. It must be 0 to 255.',
      },
      {
        name: 'ICMP code past 255',
        rule: { protocol: 'icmp', port_range_min: 3, port_range_max: 256 },
        status: 400,
        type: 'SecurityGroupInvalidIcmpValue',
        message: 'Invalid value for ICMP code (port_range_max) 256. It must be 0 to 255.',
      },
      {
        name: 'ICMP code without type',
        rule: { protocol: 'icmp', port_range_max: 5 },
        status: 400,
        type: 'SecurityGroupMissingIcmpType',
        message:
          'ICMP code (port-range-max) 5 is provided but ICMP type (port-range-min) is missing.',
      },
      {
        name: 'an IPv6 protocol with IPv4',
        rule: { protocol: 'ipv6-icmp' },
        status: 400,
        type: 'SecurityGroupEthertypeConflictWithProtocol',
        message: 'Invalid ethertype IPv4 for protocol ipv6-icmp.',
      },
      {
        name: 'an IPv6 protocol number with IPv4',
        rule: { protocol: '58' },
        status: 400,
        type: 'SecurityGroupEthertypeConflictWithProtocol',
        message: 'Invalid ethertype IPv4 for protocol 58.',
      },
      {
        name: 'an unknown ethertype',
        rule: { ethertype: 'IPv5' },
        status: 400,
        type: 'SecurityGroupRuleInvalidEtherType',
        message:
          "Security group rule for ethertype 'IPv5' not supported. Allowed values are ['IPv4', 'IPv6'].",
      },
      {
        name: 'an IPv6 prefix with IPv4',
        rule: { remote_ip_prefix: '::/0' },
        status: 400,
        type: 'SecurityGroupRuleParameterConflict',
        message: 'Conflicting value ethertype IPv4 for CIDR ::/0',
      },
      {
        name: 'an IPv4 prefix with IPv6',
        rule: { ethertype: 'IPv6', remote_ip_prefix: '10.0.0.0/8' },
        status: 400,
        type: 'SecurityGroupRuleParameterConflict',
        message: 'Conflicting value ethertype IPv6 for CIDR 10.0.0.0/8',
      },
      {
        name: 'a prefix that is no prefix',
        rule: { remote_ip_prefix: '10.0.0.0/33' },
        status: 400,
        type: 'InvalidCIDR',
        message: 'Invalid CIDR 10.0.0.0/33 given as IP prefix.',
      },
      {
        name: 'both a remote prefix and a remote group',
        rule: { remote_ip_prefix: '10.0.0.0/8', remote_group_id: sg },
        status: 400,
        type: 'SecurityGroupMultipleRemoteEntites',
        message:
          'Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.',
      },
      {
        name: 'an unknown remote group',
        rule: { remote_group_id: MISSING },
        status: 404,
        type: 'SecurityGroupNotFound',
        message: `Security group ${MISSING} does not exist`,
      },
      {
        name: "another project's group as the remote group",
        rule: { remote_group_id: other },
        status: 404,
        type: 'SecurityGroupNotFound',
        message: `Security group ${other} does not exist`,
      },
      {
        name: 'an unknown group',
        rule: { security_group_id: MISSING },
        status: 404,
        type: 'SecurityGroupNotFound',
        message: `Security group ${MISSING} does not exist`,
      },
      {
        name: 'an unknown direction',
        rule: { direction: 'sideways' },
        status: 400,
        type: 'HTTPBadRequest',
        message: 'Invalid input for direction. Reason: sideways is not in valid_values.',
      },
      {
        name: 'no direction',
        rule: { direction: undefined },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Failed to parse request. Required attribute 'direction' not specified",
      },
      {
        name: 'no group',
        rule: { security_group_id: undefined },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Failed to parse request. Required attribute 'security_group_id' not specified",
      },
      {
        name: 'an unknown attribute',
        rule: { foo: 'bar' },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Unrecognized attribute(s) 'foo'",
      },
      {
        name: 'tags, which rules do not have',
        rule: { tags: ['a'] },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Unrecognized attribute(s) 'tags'",
      },
      {
        name: 'an id',
        rule: { id: MISSING },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Attribute 'id' not allowed in POST",
      },
    ];
    for (const c of cases) {
      const res = await postRule(h, p1, { security_group_id: sg, direction: 'ingress', ...c.rule });
      assert.equal(res.status, c.status, `${c.name}: ${res.text}`);
      assert.deepEqual(neutronError(res), { type: c.type, message: c.message, detail: '' }, c.name);
    }
    const unwrapped = await h.call('POST', '/v2.0/security-group-rules', {
      token: p1,
      body: { rule: { security_group_id: sg, direction: 'ingress' } },
    });
    assert.equal(unwrapped.status, 400);
    assert.equal(
      neutronError(unwrapped).message,
      "Unable to find 'security_group_rule' in request body",
    );
    // Nothing was added.
    const rules = await h.call('GET', `/v2.0/security-group-rules?security_group_id=${sg}`, {
      token: p1,
    });
    assert.equal(rules.body.security_group_rules.length, 2);
  });

  it('refuses a rule the group already has, naming the existing rule', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const web = await group(h, p1, 'web');
    const egress = (ethertype: string): string =>
      web.security_group_rules.find((r: any) => r.ethertype === ethertype).id;
    const ssh = await postRule(h, p1, {
      security_group_id: web.id,
      direction: 'ingress',
      protocol: 'tcp',
      port_range_min: 22,
      port_range_max: 22,
    });
    assert.equal(ssh.status, 201);
    const sshId = ssh.body.security_group_rule.id;
    const v6ping = await postRule(h, p1, {
      security_group_id: web.id,
      direction: 'ingress',
      ethertype: 'IPv6',
      protocol: 'ipv6-icmp',
    });
    assert.equal(v6ping.status, 201);
    const cases: { name: string; rule: Record<string, unknown>; existing: string }[] = [
      {
        name: 'the same rule',
        rule: { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
        existing: sshId,
      },
      {
        name: 'tcp given as 6',
        rule: { direction: 'ingress', protocol: '6', port_range_min: '22', port_range_max: 22 },
        existing: sshId,
      },
      {
        name: '0.0.0.0/0 is no prefix',
        rule: { direction: 'egress', remote_ip_prefix: '0.0.0.0/0' },
        existing: egress('IPv4'),
      },
      {
        name: '::/0 is no prefix',
        rule: { direction: 'egress', ethertype: 'IPv6', remote_ip_prefix: '::/0' },
        existing: egress('IPv6'),
      },
      {
        name: 'any is no protocol',
        rule: { direction: 'egress', protocol: 'any' },
        existing: egress('IPv4'),
      },
      {
        name: 'icmp with IPv6 is ipv6-icmp',
        rule: { direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp' },
        existing: v6ping.body.security_group_rule.id,
      },
    ];
    for (const c of cases) {
      const res = await postRule(h, p1, { security_group_id: web.id, ...c.rule });
      assert.equal(res.status, 409, c.name);
      assert.deepEqual(
        neutronError(res),
        {
          type: 'SecurityGroupRuleExists',
          message: `Security group rule already exists. Rule id is ${c.existing}.`,
          detail: '',
        },
        c.name,
      );
    }
    // A different port, prefix or direction is another rule.
    for (const rule of [
      { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 23 },
      {
        direction: 'ingress',
        protocol: 'tcp',
        port_range_min: 22,
        port_range_max: 22,
        remote_ip_prefix: '10.0.0.0/8',
      },
      { direction: 'egress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
    ])
      assert.equal((await postRule(h, p1, { security_group_id: web.id, ...rule })).status, 201);
  });

  it("moves the group's revision on with each rule created or deleted", async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const web = await group(h, p1, 'web');
    const revision = async (): Promise<number> =>
      (await h.call('GET', `/v2.0/security-groups/${web.id}`, { token: p1 })).body.security_group
        .revision_number;
    const before = await revision();
    const created = await postRule(h, p1, {
      security_group_id: web.id,
      direction: 'ingress',
      protocol: 'udp',
      port_range_min: 53,
      port_range_max: 53,
    });
    const ruleId = created.body.security_group_rule.id;
    assert.equal(await revision(), before + 1);
    const nested = (await h.call('GET', `/v2.0/security-groups/${web.id}`, { token: p1 })).body
      .security_group.security_group_rules;
    assert.ok(nested.some((r: any) => r.id === ruleId && Array.isArray(r.tags)));
    assert.equal(
      (await h.call('DELETE', `/v2.0/security-group-rules/${ruleId}`, { token: p1 })).status,
      204,
    );
    assert.equal(await revision(), before + 2);
    const gone = await h.call('GET', `/v2.0/security-group-rules/${ruleId}`, { token: p1 });
    assert.equal(gone.status, 404);
    assert.deepEqual(neutronError(gone), {
      type: 'SecurityGroupRuleNotFound',
      message: `Security group rule ${ruleId} does not exist`,
      detail: '',
    });
    const again = await h.call('DELETE', `/v2.0/security-group-rules/${ruleId}`, { token: p1 });
    assert.equal(again.status, 404);
  });

  it('filters rules by direction, group and membership of the default group', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const web = await group(h, p1, 'web');
    const [sg] = await defaultGroups(h, 'p1');
    await postRule(h, p1, { security_group_id: web.id, direction: 'ingress', protocol: 'tcp' });
    const list = async (query: string): Promise<any[]> => {
      const res = await h.call('GET', `/v2.0/security-group-rules?${query}`, { token: p1 });
      assert.equal(res.status, 200, res.text);
      return res.body.security_group_rules;
    };
    const cases: { name: string; query: string; count: number; check: (r: any) => boolean }[] = [
      { name: 'everything', query: '', count: 7, check: () => true },
      {
        name: 'egress',
        query: 'direction=egress',
        count: 4,
        check: (r) => r.direction === 'egress',
      },
      {
        name: 'one group',
        query: `security_group_id=${web.id}`,
        count: 3,
        check: (r) => r.security_group_id === web.id,
      },
      {
        name: 'one group, ingress',
        query: `security_group_id=${web.id}&direction=ingress`,
        count: 1,
        check: (r) => r.protocol === 'tcp',
      },
      {
        name: 'the default group',
        query: 'belongs_to_default_sg=true',
        count: 4,
        check: (r) => r.security_group_id === sg.id && r.belongs_to_default_sg === true,
      },
      {
        name: 'not the default group',
        query: 'belongs_to_default_sg=false',
        count: 3,
        check: (r) => r.security_group_id === web.id && r.belongs_to_default_sg === false,
      },
      { name: 'IPv6', query: 'ethertype=IPv6', count: 3, check: (r) => r.ethertype === 'IPv6' },
    ];
    for (const c of cases) {
      const rules = await list(c.query);
      assert.equal(rules.length, c.count, c.name);
      assert.ok(rules.every(c.check), c.name);
    }
    const bad = await h.call('GET', '/v2.0/security-group-rules?colour=red', { token: p1 });
    assert.equal(bad.status, 400);
    assert.equal(neutronError(bad).message, "['colour'] is invalid attribute for filtering");
  });

  it("keeps a project's groups and rules from other projects", async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const p2 = h.token('p2');
    const web = await group(h, p1, 'web');
    const rule = (
      await postRule(h, p1, { security_group_id: web.id, direction: 'ingress', protocol: 'tcp' })
    ).body.security_group_rule;
    const theirs = (await h.call('GET', '/v2.0/security-groups', { token: p2 })).body
      .security_groups;
    assert.deepEqual(
      theirs.map((g: any) => [g.name, g.project_id]),
      [['default', 'p2']],
    );
    const theirRules = (await h.call('GET', '/v2.0/security-group-rules', { token: p2 })).body
      .security_group_rules;
    assert.equal(theirRules.length, 4);
    assert.ok(theirRules.every((r: any) => r.project_id === 'p2'));
    const cases: { name: string; call: () => Promise<Reply>; type: string }[] = [
      {
        name: 'show group',
        call: () => h.call('GET', `/v2.0/security-groups/${web.id}`, { token: p2 }),
        type: 'SecurityGroupNotFound',
      },
      {
        name: 'update group',
        call: () =>
          h.call('PUT', `/v2.0/security-groups/${web.id}`, {
            token: p2,
            body: { security_group: { name: 'mine' } },
          }),
        type: 'SecurityGroupNotFound',
      },
      {
        name: 'delete group',
        call: () => h.call('DELETE', `/v2.0/security-groups/${web.id}`, { token: p2 }),
        type: 'SecurityGroupNotFound',
      },
      {
        name: 'add a rule',
        call: () =>
          postRule(h, p2, { security_group_id: web.id, direction: 'egress', protocol: 'udp' }),
        type: 'SecurityGroupNotFound',
      },
      {
        name: 'show rule',
        call: () => h.call('GET', `/v2.0/security-group-rules/${rule.id}`, { token: p2 }),
        type: 'SecurityGroupRuleNotFound',
      },
      {
        name: 'delete rule',
        call: () => h.call('DELETE', `/v2.0/security-group-rules/${rule.id}`, { token: p2 }),
        type: 'SecurityGroupRuleNotFound',
      },
      {
        name: 'tag group',
        call: () => h.call('PUT', `/v2.0/security-groups/${web.id}/tags/x`, { token: p2 }),
        type: 'TagResourceNotFound',
      },
    ];
    for (const c of cases) {
      const res = await c.call();
      assert.equal(res.status, 404, c.name);
      assert.equal(neutronError(res).type, c.type, c.name);
    }
    // Untouched, and the admin sees both projects.
    const shown = (await h.call('GET', `/v2.0/security-groups/${web.id}`, { token: p1 })).body
      .security_group;
    assert.equal(shown.name, 'web');
    assert.equal(shown.security_group_rules.length, 3);
    const all = (await h.call('GET', '/v2.0/security-groups')).body.security_groups;
    assert.deepEqual(
      new Set(all.map((g: any) => g.project_id)),
      new Set(['p1', 'p2', 'admin-project']),
    );
  });

  it('tags security groups', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const web = await group(h, p1, 'web');
    const db = await group(h, p1, 'db');
    const url = `/v2.0/security-groups/${web.id}/tags`;
    const put = await h.call('PUT', url, { token: p1, body: { tags: ['red', 'blue'] } });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.body, { tags: ['red', 'blue'] });
    const listed = await h.call('GET', url, { token: p1 });
    assert.deepEqual([...listed.body.tags].sort(), ['blue', 'red']);
    const shown = (await h.call('GET', `/v2.0/security-groups/${web.id}`, { token: p1 })).body
      .security_group;
    assert.deepEqual([...shown.tags].sort(), ['blue', 'red']);
    assert.equal(shown.revision_number, web.revision_number + 1);
    const posted = await h.call('POST', url, { token: p1, body: { tags: ['red', 'green'] } });
    assert.equal(posted.status, 200);
    assert.deepEqual(posted.body, { tags: ['red', 'green'] });
    assert.equal((await h.call('PUT', `${url}/warm`, { token: p1 })).status, 201);
    assert.equal((await h.call('GET', `${url}/warm`, { token: p1 })).status, 204);
    assert.equal((await h.call('DELETE', `${url}/warm`, { token: p1 })).status, 204);
    const missing = await h.call('GET', `${url}/warm`, { token: p1 });
    assert.equal(missing.status, 404);
    assert.deepEqual(neutronError(missing), {
      type: 'TagNotFound',
      message: 'Tag warm could not be found.',
      detail: '',
    });
    assert.deepEqual([...(await h.call('GET', url, { token: p1 })).body.tags].sort(), [
      'blue',
      'green',
      'red',
    ]);
    const names = async (query: string): Promise<string[]> =>
      (await h.call('GET', `/v2.0/security-groups?${query}`, { token: p1 })).body.security_groups
        .map((g: any) => g.name)
        .sort();
    assert.deepEqual(await names('tags=red,green'), ['web']);
    assert.deepEqual(await names('not-tags-any=red'), ['db', 'default']);
    const cases: { name: string; body: unknown; type: string; message: string }[] = [
      {
        name: 'no tags key',
        body: { tag: ['a'] },
        type: 'InvalidInput',
        message: 'Invalid input for operation: Invalid tags body.',
      },
      {
        name: 'duplicates',
        body: { tags: ['a', 'b', 'a'] },
        type: 'InvalidInput',
        message: "Invalid input for operation: Duplicate items in the list: 'a'.",
      },
      {
        name: 'a tag too long',
        body: { tags: ['x'.repeat(256)] },
        type: 'InvalidInput',
        message: `Invalid input for operation: '${'x'.repeat(256)}' exceeds maximum length of 255.`,
      },
      {
        name: 'more than 50',
        body: { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) },
        type: 'BadRequest',
        message:
          'Bad security_groups request: The number of tags exceed the per-resource limit of 50.',
      },
    ];
    for (const c of cases) {
      const res = await h.call('PUT', url, { token: p1, body: c.body });
      assert.equal(res.status, 400, c.name);
      assert.deepEqual(neutronError(res), { type: c.type, message: c.message, detail: '' }, c.name);
    }
    assert.equal((await h.call('DELETE', url, { token: p1 })).status, 204);
    assert.deepEqual((await h.call('GET', url, { token: p1 })).body.tags, []);
    const nowhere = await h.call('GET', `/v2.0/security-groups/${MISSING}/tags`, { token: p1 });
    assert.equal(nowhere.status, 404);
    assert.deepEqual(neutronError(nowhere), {
      type: 'TagResourceNotFound',
      message: `Resource security_groups ${MISSING} could not be found.`,
      detail: '',
    });
    // Rules have no tags.
    const ruleTags = await h.call(
      'GET',
      `/v2.0/security-group-rules/${web.security_group_rules[0].id}/tags`,
      { token: p1 },
    );
    assert.equal(ruleTags.status, 404);
    assert.equal(neutronError(ruleTags).type, 'HTTPNotFound');
    assert.equal(db.tags.length, 0);
  });

  it('answers bad group bodies with NeutronError 400s', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const web = await group(h, p1, 'web');
    const cases: { name: string; method: string; body: unknown; type: string; message: string }[] =
      [
        {
          name: 'an unknown attribute',
          method: 'POST',
          body: { security_group: { name: 'x', colour: 'red' } },
          type: 'HTTPBadRequest',
          message: "Unrecognized attribute(s) 'colour'",
        },
        {
          name: 'a read-only attribute',
          method: 'POST',
          body: { security_group: { name: 'x', shared: true } },
          type: 'HTTPBadRequest',
          message: "Attribute 'shared' not allowed in POST",
        },
        {
          name: 'tags in the body',
          method: 'POST',
          body: { security_group: { name: 'x', tags: ['a'] } },
          type: 'HTTPBadRequest',
          message: "Attribute 'tags' not allowed in POST",
        },
        {
          name: 'stateful that is no boolean',
          method: 'POST',
          body: { security_group: { name: 'x', stateful: 'maybe' } },
          type: 'InvalidInput',
          message: "Invalid input for operation: 'maybe' cannot be converted to boolean.",
        },
        {
          name: 'a name too long',
          method: 'POST',
          body: { security_group: { name: 'n'.repeat(256) } },
          type: 'HTTPBadRequest',
          message: `Invalid input for name. Reason: '${'n'.repeat(256)}' exceeds maximum length of 255.`,
        },
        {
          name: 'no wrapper',
          method: 'POST',
          body: { name: 'x' },
          type: 'HTTPBadRequest',
          message: "Unable to find 'security_group' in request body",
        },
        {
          name: 'an unknown attribute on update',
          method: 'PUT',
          body: { security_group: { colour: 'red' } },
          type: 'HTTPBadRequest',
          message: "Unrecognized attribute(s) 'colour'",
        },
        {
          name: 'a read-only attribute on update',
          method: 'PUT',
          body: { security_group: { id: MISSING } },
          type: 'HTTPBadRequest',
          message: 'Cannot update read-only attribute id',
        },
      ];
    for (const c of cases) {
      const url = c.method === 'POST' ? '/v2.0/security-groups' : `/v2.0/security-groups/${web.id}`;
      const res = await h.call(c.method, url, { token: p1, body: c.body });
      assert.equal(res.status, 400, `${c.name}: ${res.text}`);
      assert.deepEqual(neutronError(res), { type: c.type, message: c.message, detail: '' }, c.name);
    }
    const groups = (await h.call('GET', '/v2.0/security-groups', { token: p1 })).body
      .security_groups;
    assert.deepEqual(groups.map((g: any) => g.name).sort(), ['default', 'web']);
  });
});
