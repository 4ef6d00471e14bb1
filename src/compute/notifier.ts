/**
 * Notifications for every instance state change (`compute.instance.<event>`), with the request
 * id of the user action that caused it. Sending is best-effort: a notification that cannot be
 * sent is logged, never a reason to fail the change it reports.
 */
import type { Logger } from '../common/logging.ts';
import type { MessageBus } from '../common/messaging/bus.ts';
import type { InstanceRow } from './db/schema.ts';
import { statusOf } from './instance-model.ts';

export type InstanceNotifier = (
  publisher: string,
  event: string,
  row: InstanceRow,
  extra?: Record<string, string | number | null>,
) => void;

export function instanceNotifier(bus: MessageBus, logger: Logger): InstanceNotifier {
  return (publisher, event, row, extra = {}) => {
    bus
      .notify({
        publisherId: publisher,
        eventType: `compute.instance.${event}`,
        priority: event.endsWith('.error') ? 'error' : 'info',
        payload: {
          instance_id: row.uuid,
          tenant_id: row.project_id,
          user_id: row.user_id,
          display_name: row.display_name,
          host: row.host,
          node: row.node,
          state: row.vm_state,
          state_description: row.task_state ?? '',
          status: statusOf(row.vm_state, row.task_state),
          power_state: row.power_state,
          memory_mb: row.memory_mb,
          vcpus: row.vcpus,
          root_gb: row.root_gb,
          image_ref: row.image_ref,
          created_at: row.created_at,
          launched_at: row.launched_at ?? '',
          terminated_at: row.terminated_at ?? '',
          ...extra,
        },
      })
      .catch((err: unknown) => logger.warn({ err, event }, 'compute notification not sent'));
  };
}
