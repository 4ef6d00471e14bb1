/** Nova's DiskWeigher: more free disk weighs more (a positive multiplier spreads). */
import type { HostWeigher } from '../weigher.ts';

export const diskWeigher: HostWeigher = { name: 'DiskWeigher', weigh: (host) => host.freeDiskGb };
