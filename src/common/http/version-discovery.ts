/**
 * Version-discovery documents, the first thing every client fetches from an endpoint. The shapes
 * differ per service (Keystone wraps the list in `values`, Placement has no `updated`), so each
 * service builds its own from these pieces.
 */

export type Link = { rel: string; href: string; type?: string };

export type MediaType = { base: string; type: string };

export type VersionEntry = {
  id: string;
  status: 'CURRENT' | 'SUPPORTED' | 'DEPRECATED' | 'EXPERIMENTAL' | 'stable';
  links: Link[];
  updated?: string;
  version?: string;
  min_version?: string;
  max_version?: string;
  'media-types'?: MediaType[];
};

/** `http://host:port` as the client reached us, so links work behind a proxy or on any name. */
export function baseUrlOf(request: {
  protocol: string;
  host: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}): string {
  const forwardedProto = request.headers['x-forwarded-proto'];
  const proto =
    typeof forwardedProto === 'string' && /^https?$/.test(forwardedProto)
      ? forwardedProto
      : request.protocol;
  return `${proto}://${request.host}`;
}

export function selfLink(href: string): Link {
  return { rel: 'self', href };
}
