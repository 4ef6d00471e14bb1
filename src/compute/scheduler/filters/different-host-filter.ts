/** Nova's DifferentHostFilter: the host runs none of the instances named by `different_host`. */
import type { HostFilter } from '../filter.ts';

export const differentHostFilter: HostFilter = {
  name: 'DifferentHostFilter',
  applies: (request) => request.differentHost.length > 0,
  passes(host, request) {
    return request.differentHost.some((uuid) => host.instances.has(uuid))
      ? `host ${host.host} runs an instance of different_host`
      : true;
  },
};
