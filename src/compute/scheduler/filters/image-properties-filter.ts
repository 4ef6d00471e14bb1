/**
 * Nova's ImagePropertiesFilter: an image asking for a hypervisor type (`img_hv_type`, or the
 * older `hypervisor_type`) or an architecture only lands on hosts that offer it.
 */
import type { HostFilter } from '../filter.ts';

export const imagePropertiesFilter: HostFilter = {
  name: 'ImagePropertiesFilter',
  applies: (request) =>
    ['img_hv_type', 'hypervisor_type', 'hw_architecture', 'architecture'].some(
      (key) => request.imageProperties[key] !== undefined,
    ),
  passes(host, request) {
    const props = request.imageProperties;
    const hvType = props['img_hv_type'] ?? props['hypervisor_type'];
    if (hvType !== undefined && hvType.toLowerCase() !== host.hypervisorType.toLowerCase())
      return `host ${host.host} is a ${host.hypervisorType} hypervisor, the image wants ${hvType}`;
    const arch = props['hw_architecture'] ?? props['architecture'];
    if (arch !== undefined && !['x86_64', 'amd64'].includes(arch.toLowerCase()))
      return `host ${host.host} is x86_64, the image wants ${arch}`;
    return true;
  },
};
