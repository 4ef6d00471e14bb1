/**
 * A scheduler weigher: pure, one per file under `weighers/`. It returns a raw number per host;
 * the scheduler normalises each weigher's numbers to 0…1 across the hosts and multiplies them by
 * the weigher's configured multiplier, as Nova does.
 */
import type { HostState, SchedulingRequest } from './host-state.ts';

export interface HostWeigher {
  readonly name: string;
  weigh(host: HostState, request: SchedulingRequest): number;
}

/** Normalises each weigher's raw values to 0…1 (all equal → all 0) and sums them by multiplier. */
export function weighHosts(
  hosts: readonly HostState[],
  request: SchedulingRequest,
  weighers: readonly { weigher: HostWeigher; multiplier: number }[],
): number[] {
  const totals = hosts.map(() => 0);
  for (const { weigher, multiplier } of weighers) {
    if (multiplier === 0) continue;
    const raw = hosts.map((h) => weigher.weigh(h, request));
    const min = Math.min(...raw);
    const max = Math.max(...raw);
    const span = max - min;
    for (let i = 0; i < hosts.length; i++)
      totals[i] = (totals[i] ?? 0) + (span === 0 ? 0 : ((raw[i] ?? 0) - min) / span) * multiplier;
  }
  return totals;
}
