/** Nova's ServerGroupSoftAntiAffinityWeigher: hosts running fewer of the group weigh more. */
import type { HostWeigher } from '../weigher.ts';

export const serverGroupSoftAntiAffinityWeigher: HostWeigher = {
  name: 'ServerGroupSoftAntiAffinityWeigher',
  weigh: (host, request) =>
    request.group?.policy === 'soft-anti-affinity'
      ? -(request.group.memberHosts[host.host] ?? 0)
      : 0,
};
