/** Nova's RAMWeigher: more free memory weighs more (a positive multiplier spreads). */
import type { HostWeigher } from '../weigher.ts';

export const ramWeigher: HostWeigher = { name: 'RAMWeigher', weigh: (host) => host.freeRamMb };
