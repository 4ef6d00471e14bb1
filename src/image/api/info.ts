/** `/v2/info/import` and `/v2/info/stores`: what the deployment offers for image data. */
import type { App } from '../../common/http/app.ts';

export function infoRoutes(app: App): void {
  app.get('/v2/info/import', async () => ({
    'import-methods': {
      description: 'Import methods available.',
      type: 'array',
      value: ['glance-direct', 'copy-image'],
    },
  }));
  app.get('/v2/info/stores', async () => ({
    stores: [{ id: 'file', description: 'Local filesystem store', default: true }],
  }));
}
