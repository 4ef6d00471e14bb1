/**
 * Microversion negotiation as the OpenStack API guidelines define it: the client asks with
 * `OpenStack-API-Version: <service-type> <X.Y>` (or `latest`, or a service's legacy header); no
 * header means the minimum; a malformed value is a 400; a version outside [min, max] is a 406.
 * The chosen version is echoed in the response with `Vary`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequestError, NotAcceptableError, NotFoundError } from '../errors.ts';

export type ApiVersion = { readonly major: number; readonly minor: number };

export type MicroversionOptions = {
  /** The catalog service type named in the header: `compute`, `volume`, `placement`. */
  serviceType: string;
  min: string;
  max: string;
  /** A legacy header also read and echoed, e.g. `x-openstack-nova-api-version`. */
  legacyHeader?: string;
};

/** A route's own range, declared next to it: `config: { microversion: { min: '2.10' } }`. */
export type RouteMicroversion = { min?: string; max?: string };

declare module 'fastify' {
  interface FastifyRequest {
    apiVersion: ApiVersion;
  }
  interface FastifyContextConfig {
    microversion?: RouteMicroversion;
  }
}

const VERSION = /^([1-9]\d*)\.(0|[1-9]\d*)$/;

export function parseVersion(text: string): ApiVersion {
  const m = VERSION.exec(text.trim());
  if (!m) {
    throw new BadRequestError(
      `API Version String ${text} is of invalid format. Must be of format MajorNum.MinorNum.`,
      'common.invalid_api_version',
    );
  }
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export function compareVersions(a: ApiVersion, b: ApiVersion): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

export function formatVersion(v: ApiVersion): string {
  return `${v.major}.${v.minor}`;
}

/** True when `v` is at least `min` (and at most `max` when given). */
export function versionMatches(v: ApiVersion, min: string, max?: string): boolean {
  if (compareVersions(v, parseVersion(min)) < 0) return false;
  return max === undefined || compareVersions(v, parseVersion(max)) <= 0;
}

/**
 * The version a request asks for, from its headers. `OpenStack-API-Version` may list several
 * services (`compute 2.60, placement 1.30`); only ours counts.
 */
export function requestedVersion(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  opts: MicroversionOptions,
): string | undefined {
  const generic = headers['openstack-api-version'];
  const values = Array.isArray(generic) ? generic : generic === undefined ? [] : [generic];
  for (const entry of values.flatMap((v) => v.split(','))) {
    const [service, version, ...rest] = entry.trim().split(/\s+/);
    if (service?.toLowerCase() === opts.serviceType && version !== undefined && rest.length === 0) {
      return version;
    }
  }
  if (opts.legacyHeader !== undefined) {
    const legacy = headers[opts.legacyHeader.toLowerCase()];
    const value = Array.isArray(legacy) ? legacy[0] : legacy;
    if (value !== undefined && value.trim() !== '') return value.trim();
  }
  return undefined;
}

export function negotiateVersion(
  requested: string | undefined,
  opts: MicroversionOptions,
): ApiVersion {
  const min = parseVersion(opts.min);
  const max = parseVersion(opts.max);
  if (requested === undefined) return min;
  if (requested.trim().toLowerCase() === 'latest') return max;
  const v = parseVersion(requested);
  if (compareVersions(v, min) < 0 || compareVersions(v, max) > 0) {
    throw new NotAcceptableError(
      `Version ${formatVersion(v)} is not supported by the API. Minimum is ${opts.min} and maximum is ${opts.max}.`,
      'common.unsupported_api_version',
    );
  }
  return v;
}

/**
 * Turns on negotiation for every route of `scope` (a Fastify encapsulated plugin, e.g. the
 * `/v2.1` prefix). Routes outside their declared range answer 404, as Nova's do.
 */
export function useMicroversions(scope: FastifyInstance, opts: MicroversionOptions): void {
  const varyOn = ['OpenStack-API-Version', ...(opts.legacyHeader ? [opts.legacyHeader] : [])].join(
    ', ',
  );
  scope.decorateRequest('apiVersion', null as unknown as ApiVersion);
  scope.addHook('onRequest', async (request: FastifyRequest, reply) => {
    // Echo headers go on first so that even a 400/406 says which versions exist.
    reply.header('vary', varyOn);
    const version = negotiateVersion(requestedVersion(request.headers, opts), opts);
    request.apiVersion = version;
    const text = formatVersion(version);
    reply.header('openstack-api-version', `${opts.serviceType} ${text}`);
    if (opts.legacyHeader) reply.header(opts.legacyHeader, text);
    const route = request.routeOptions.config.microversion;
    if (route && !versionMatches(version, route.min ?? opts.min, route.max)) {
      throw new NotFoundError(
        `API version ${text} is not supported on this method.`,
        'common.version_not_found_for_method',
      );
    }
  });
}
