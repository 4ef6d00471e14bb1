/**
 * Questions the API asks a compute host's agent directly (RPC `call`), for answers only the host
 * has: a guest's console, the host's uptime. Nothing here changes state.
 */
import { ServiceUnavailableError } from '../common/errors.ts';
import type { JsonObject, JsonValue, MessageBus } from '../common/messaging/bus.ts';
import { COMPUTE_TOPIC } from './tasks.ts';

/** How long the API waits for a host to answer. */
const HOST_CALL_TIMEOUT_MS = 15_000;

/**
 * Calls `method` on the agent of `host`.
 * @throws ServiceUnavailableError (503) when the host does not answer in time.
 */
export async function callHost(
  bus: MessageBus,
  host: string,
  method: string,
  args: JsonObject,
): Promise<JsonValue> {
  try {
    return await bus.call({ topic: COMPUTE_TOPIC, server: host }, method, args, {
      timeoutMs: HOST_CALL_TIMEOUT_MS,
    });
  } catch {
    throw new ServiceUnavailableError(
      `Compute service of ${host} is unavailable at this time.`,
      'compute.host_unavailable',
    );
  }
}

/** The host's uptime line, as `uptime` prints it. */
export async function hostUptime(bus: MessageBus, host: string): Promise<string> {
  const reply = await callHost(bus, host, 'get_host_uptime', {});
  const uptime =
    typeof reply === 'object' && reply !== null && !Array.isArray(reply)
      ? reply['uptime']
      : undefined;
  return typeof uptime === 'string' ? uptime : '';
}
