/** Nova's ServerGroupSoftAffinityWeigher: hosts running more of the group weigh more. */
import type { HostWeigher } from '../weigher.ts';

export const serverGroupSoftAffinityWeigher: HostWeigher = {
  name: 'ServerGroupSoftAffinityWeigher',
  weigh: (host, request) =>
    request.group?.policy === 'soft-affinity' ? (request.group.memberHosts[host.host] ?? 0) : 0,
};
