/** The compute API's microversion range, shared by discovery and negotiation. */
export const COMPUTE_MIN_VERSION = '2.1';
export const COMPUTE_MAX_VERSION = '2.93';
