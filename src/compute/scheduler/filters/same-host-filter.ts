/** Nova's SameHostFilter: the host runs every instance named by the `same_host` hint. */
import type { HostFilter } from '../filter.ts';

export const sameHostFilter: HostFilter = {
  name: 'SameHostFilter',
  applies: (request) => request.sameHost.length > 0,
  passes(host, request) {
    return request.sameHost.every((uuid) => host.instances.has(uuid))
      ? true
      : `host ${host.host} does not run every instance of same_host`;
  },
};
