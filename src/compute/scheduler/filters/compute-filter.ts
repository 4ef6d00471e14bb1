/** Nova's ComputeFilter: the host's compute service is up and enabled. */
import type { HostFilter } from '../filter.ts';

export const computeFilter: HostFilter = {
  name: 'ComputeFilter',
  applies: () => true,
  passes(host) {
    if (host.serviceDisabled)
      return `compute service on ${host.host} is disabled${host.disabledReason !== null ? ` (${host.disabledReason})` : ''}`;
    if (!host.serviceUp) return `compute service on ${host.host} is down`;
    return true;
  },
};
