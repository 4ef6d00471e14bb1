/** Nova's CPUWeigher: more free vCPUs weigh more (a positive multiplier spreads). */
import type { HostWeigher } from '../weigher.ts';

export const cpuWeigher: HostWeigher = { name: 'CPUWeigher', weigh: (host) => host.freeVcpus };
