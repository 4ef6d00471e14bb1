/** `/v2/info/import` and `/v2/info/stores`: what the deployment offers for image data. */
import type { App } from '../../common/http/app.ts';
import type { ApiDeps } from './context.ts';

export function infoRoutes(app: App, deps: ApiDeps): void {
  app.get('/v2/info/import', async () => ({
    'import-methods': {
      description: 'Import methods available.',
      type: 'array',
      value: deps.data.importMethods(),
    },
  }));
  // Glance spells the flags as the strings "true", and leaves them out when false.
  app.get('/v2/info/stores', async () => ({
    stores: deps.stores.list().map((entry) => ({
      id: entry.id,
      ...(entry.description !== undefined ? { description: entry.description } : {}),
      ...(entry.id === deps.stores.defaultId ? { default: 'true' } : {}),
    })),
  }));
}
