/**
 * Nova's ServerGroupAntiAffinityFilter: a member of an anti-affinity group goes only to a host
 * that runs fewer than `max_server_per_host` (default 1) of the group's other members.
 */
import type { HostFilter } from '../filter.ts';

export const serverGroupAntiAffinityFilter: HostFilter = {
  name: 'ServerGroupAntiAffinityFilter',
  applies: (request) => request.group?.policy === 'anti-affinity',
  passes(host, request) {
    const group = request.group;
    if (group === undefined) return true;
    const here = group.memberHosts[host.host] ?? 0;
    return here < group.maxServerPerHost
      ? true
      : `host ${host.host} already runs ${here} member(s) of the anti-affinity group`;
  },
};
