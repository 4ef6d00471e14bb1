/** A scheduler filter: pure, one per file under `filters/`, saying why a host does not fit. */
import type { HostState, SchedulingRequest } from './host-state.ts';

/** true when the host passes; otherwise the reason it does not, for the NoValidHost fault. */
export type FilterResult = true | string;

export interface HostFilter {
  /** The class name operators know from Nova (`ComputeFilter`). */
  readonly name: string;
  /** Whether the filter has anything to do for this request (skipped otherwise). */
  applies(request: SchedulingRequest): boolean;
  passes(host: HostState, request: SchedulingRequest): FilterResult;
}
