/** The network a server gets when the user names none (boot with `auto`, os-interface). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError } from '../../src/common/errors.ts';
import type { NetworkSummary } from '../../src/network/client.ts';
import { onlyNetwork } from '../../src/compute/instance-network.ts';

function net(id: string, fields: Partial<NetworkSummary> = {}): NetworkSummary {
  return {
    id,
    name: id,
    project_id: 'p1',
    shared: false,
    'router:external': false,
    status: 'ACTIVE',
    subnets: [],
    mtu: 1500,
    ...fields,
  };
}

describe('onlyNetwork', () => {
  const picks: { name: string; visible: NetworkSummary[]; want: string | undefined }[] = [
    { name: 'none at all', visible: [], want: undefined },
    { name: "the project's own", visible: [net('own')], want: 'own' },
    {
      name: 'its own before a shared one',
      visible: [net('shared', { project_id: 'admin', shared: true }), net('own')],
      want: 'own',
    },
    {
      name: 'a shared one when it has none',
      visible: [net('shared', { project_id: 'admin', shared: true })],
      want: 'shared',
    },
    {
      name: 'never an external one',
      visible: [net('ext', { 'router:external': true })],
      want: undefined,
    },
    {
      name: "not another project's unshared network",
      visible: [net('other', { project_id: 'p2' })],
      want: undefined,
    },
    {
      name: 'the same network listed twice',
      visible: [net('shared', { shared: true }), net('shared', { shared: true })],
      want: 'shared',
    },
  ];
  for (const c of picks)
    it(`picks ${c.name}`, () => {
      assert.equal(onlyNetwork(c.visible, 'p1')?.id, c.want);
    });

  const ambiguous: { name: string; visible: NetworkSummary[] }[] = [
    { name: 'two of its own', visible: [net('a'), net('b')] },
    {
      name: 'two shared ones',
      visible: [
        net('a', { project_id: 'admin', shared: true }),
        net('b', { project_id: 'admin', shared: true }),
      ],
    },
  ];
  for (const c of ambiguous)
    it(`refuses to guess between ${c.name}`, () => {
      assert.throws(
        () => onlyNetwork(c.visible, 'p1'),
        (err: unknown) =>
          err instanceof ConflictError &&
          err.message === 'Multiple possible networks found, use a Network ID to be more specific.',
      );
    });
});
