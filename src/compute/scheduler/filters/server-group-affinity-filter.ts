/**
 * Nova's ServerGroupAffinityFilter: once a member of an affinity group runs somewhere, the other
 * members go to that host only.
 */
import type { HostFilter } from '../filter.ts';

export const serverGroupAffinityFilter: HostFilter = {
  name: 'ServerGroupAffinityFilter',
  applies: (request) => request.group?.policy === 'affinity',
  passes(host, request) {
    const hosts = Object.keys(request.group?.memberHosts ?? {});
    return hosts.length === 0 || hosts.includes(host.host)
      ? true
      : `host ${host.host} is not where the affinity group runs`;
  },
};
