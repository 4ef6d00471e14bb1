/** `POST /v2/images/{id}/import`: the interoperable image import (Image API 2.6+). */
import type { App } from '../../common/http/app.ts';
import { invalid } from '../errors.ts';
import type { ImportMethod, ImportRequest } from '../image-data.ts';
import { authorize, imageTarget, loadImage, type ApiDeps } from './context.ts';
import { storeHeader } from './data.ts';
import { ImageParams } from './images.ts';

/** Reads the body as Glance validates it, in its order and with its messages. */
export function parseImportBody(
  body: unknown,
  methods: readonly ImportMethod[],
  header: string | undefined,
): ImportRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('Request body must be a JSON object.');
  const b = body as Record<string, unknown>;
  const method = b['method'];
  if (typeof method !== 'object' || method === null || Array.isArray(method))
    throw invalid("Import request requires a 'method' field.");
  const name = (method as Record<string, unknown>)['name'];
  if (name === undefined) throw invalid("Import request requires a 'name' field.");
  if (typeof name !== 'string' || !(methods as readonly string[]).includes(name))
    throw invalid(
      `Unknown import method name '${typeof name === 'string' ? name : JSON.stringify(name)}'.`,
    );
  const mustSucceed = b['all_stores_must_succeed'] ?? true;
  if (typeof mustSucceed !== 'boolean')
    throw invalid("'all_stores_must_succeed' must be boolean value only");
  const allStores = b['all_stores'] ?? false;
  if (typeof allStores !== 'boolean') throw invalid("'all_stores' must be boolean value only");
  const stores = b['stores'];
  if (allStores && (stores !== undefined || header !== undefined))
    throw invalid(
      "All_stores parameter can't be used with x-image-meta-store header or stores parameter",
    );
  if (stores !== undefined && header !== undefined)
    throw invalid("Stores parameter and x-image-meta-store header can't be both specified");
  if (
    stores !== undefined &&
    (!Array.isArray(stores) || stores.some((s) => typeof s !== 'string') || stores.length === 0)
  )
    throw invalid("'stores' must be a non-empty list of store identifiers.");
  const named = (stores as string[] | undefined) ?? (header !== undefined ? [header] : undefined);
  return {
    method: name as ImportMethod,
    allStores,
    allStoresMustSucceed: mustSucceed,
    ...(named !== undefined ? { stores: named } : {}),
  };
}

export function importRoutes(app: App, deps: ApiDeps): void {
  const { data } = deps;
  app.post(
    '/v2/images/:image_id/import',
    { schema: { params: ImageParams } },
    async (request, reply) => {
      const image = await loadImage(request, deps, request.params.image_id);
      const parsed = parseImportBody(request.body, data.importMethods(), storeHeader(request));
      // Copying someone's image is its own rule; importing data needs ownership.
      authorize(
        request,
        deps,
        parsed.method === 'copy-image' ? 'copy_image' : 'modify_image',
        imageTarget(image),
      );
      await data.startImport(image, parsed);
      return reply.status(202).send();
    },
  );
}
