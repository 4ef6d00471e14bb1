/**
 * Keeps a rescheduled build away from the hosts that failed it already (Nova did this with its
 * RetryFilter before alternates; a task here remembers the hosts across retries itself).
 */
import type { HostFilter } from '../filter.ts';

export const retryFilter: HostFilter = {
  name: 'RetryFilter',
  applies: (request) => request.ignoreHosts.length > 0,
  passes(host, request) {
    return request.ignoreHosts.includes(host.host)
      ? `host ${host.host} failed this build already`
      : true;
  },
};
