/** Nova's AvailabilityZoneFilter: the host is in the zone the request names. */
import type { HostFilter } from '../filter.ts';

export const availabilityZoneFilter: HostFilter = {
  name: 'AvailabilityZoneFilter',
  applies: (request) => request.availabilityZone !== null,
  passes(host, request) {
    return host.availabilityZone === request.availabilityZone
      ? true
      : `host ${host.host} is in availability zone ${host.availabilityZone}`;
  },
};
