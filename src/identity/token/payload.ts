/**
 * What a token carries inside its Fernet ciphertext: the facts Keystone's fernet payloads carry
 * (user, methods, scope, expiry, audit ids, application credential), in a small versioned binary
 * layout. Keystone uses msgpack; tokens need only be read by tstack, and binary keeps a
 * project-scoped password token at 162 characters (183 with an audit chain); a JSON array
 * of the same fields measured 247.
 *
 * Layout, version 1 (all integers big-endian):
 *
 *     u8  version = 1
 *     u8  flags: bits 0-1 scope (0 unscoped, 1 project, 2 domain, 3 system "all"),
 *                bit 2 a second (chain) audit id follows, bit 3 an application credential id
 *                follows; bits 4-7 are zero
 *     u8  methods, a bitmask over AUTH_METHODS
 *     u64 expires_at in microseconds since the epoch
 *     u64 issued_at in microseconds since the epoch (the Fernet timestamp has whole seconds only,
 *         too coarse for revocation: a token issued just after a password change in the same
 *         second must stay valid)
 *     id  user_id
 *     id  project_id or domain_id            (project and domain scope only)
 *     16  audit id, then 16 chain audit id   (raw bytes of the url-safe base64 ids)
 *     id  application_credential_id          (flag bit 3 only)
 *
 * An `id` is a tag byte then bytes: tag 0 means 16 bytes that are a lowercase 32-hex id (what
 * Keystone generates), tag n in 1..255 means n bytes of UTF-8 (e.g. the domain id 'default').
 */
import { randomFromPool } from './random.ts';
import { InvalidTokenError } from './errors.ts';
import { decodeBase64Url } from './fernet.ts';

/** Keystone's default `[auth] methods` order, then totp; a token records a subset as bits. */
export const AUTH_METHODS = [
  'external',
  'password',
  'token',
  'oauth1',
  'mapped',
  'application_credential',
  'totp',
] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export type TokenScope =
  | { readonly kind: 'unscoped' }
  | { readonly kind: 'project'; readonly projectId: string }
  | { readonly kind: 'domain'; readonly domainId: string }
  | { readonly kind: 'system'; readonly system: 'all' };

export interface TokenPayload {
  readonly userId: string;
  /** Decoded in AUTH_METHODS order, without duplicates. */
  readonly methods: readonly AuthMethod[];
  readonly scope: TokenScope;
  /** Expiry in whole microseconds since the epoch (Keystone reports expires_at to the µs). */
  readonly expiresAtMicros: number;
  /** Issue time in whole microseconds since the epoch. */
  readonly issuedAtMicros: number;
  /** The token's own audit id, then the audit chain id of the token it was made from, if any. */
  readonly auditIds: readonly [own: string, chain?: string];
  readonly applicationCredentialId?: string;
}

export const PAYLOAD_VERSION = 1;

const SCOPE_CODES = { unscoped: 0, project: 1, domain: 2, system: 3 } as const;
const FLAG_CHAIN_AUDIT = 0b0100;
const FLAG_APP_CRED = 0b1000;
const HEX_ID = /^[0-9a-f]{32}$/;
const AUDIT_ID = /^[A-Za-z0-9_-]{22}$/;
const TWO_32 = 0x1_0000_0000;

/** A new audit id: 16 random bytes in url-safe base64 without padding, as Keystone makes them. */
export function newAuditId(): string {
  return randomFromPool(16).toString('base64url');
}

/** Keystone's timestamp spelling with microseconds, e.g. `2015-08-27T09:49:58.000000Z`. */
export function isoTimeMicros(micros: number): string {
  const seconds = Math.floor(micros / 1e6);
  const fraction = micros - seconds * 1e6;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${String(fraction).padStart(6, '0')}Z`;
}

/** An id with its tag byte in front (see the layout above). */
function taggedId(id: string, field: string): Buffer {
  if (HEX_ID.test(id)) {
    const out = Buffer.allocUnsafe(17);
    out[0] = 0;
    out.write(id, 1, 'hex');
    return out;
  }
  const length = Buffer.byteLength(id, 'utf8');
  if (length === 0 || length > 255) {
    throw new RangeError(`Token ${field} must be 1 to 255 bytes of UTF-8.`);
  }
  const out = Buffer.allocUnsafe(1 + length);
  out[0] = length;
  out.write(id, 1, 'utf8');
  return out;
}

function auditBytes(id: string): Buffer {
  const raw = AUDIT_ID.test(id) ? decodeBase64Url(id) : undefined;
  if (raw === undefined) throw new RangeError(`Not an audit id (22 url-safe base64 chars): ${id}`);
  return raw;
}

/**
 * Encodes a payload.
 * @throws RangeError for a payload no token can carry (these are caller bugs, not bad input).
 */
export function encodeTokenPayload(payload: TokenPayload): Buffer {
  const { expiresAtMicros: expires, issuedAtMicros: issued, auditIds, scope } = payload;
  if (!Number.isSafeInteger(expires) || expires < 0) {
    throw new RangeError(`expiresAtMicros must be whole microseconds: ${expires}`);
  }
  if (!Number.isSafeInteger(issued) || issued < 0) {
    throw new RangeError(`issuedAtMicros must be whole microseconds: ${issued}`);
  }
  let methods = 0;
  for (const method of payload.methods) {
    const bit = AUTH_METHODS.indexOf(method);
    if (bit < 0) throw new RangeError(`Unknown authentication method: ${String(method)}`);
    methods |= 1 << bit;
  }
  const ids: Buffer[] = [taggedId(payload.userId, 'user_id')];
  if (scope.kind === 'project') ids.push(taggedId(scope.projectId, 'project_id'));
  if (scope.kind === 'domain') ids.push(taggedId(scope.domainId, 'domain_id'));
  if (auditIds.length < 1 || auditIds.length > 2) {
    throw new RangeError('A token has one or two audit ids.');
  }
  const [own, chain] = auditIds;
  const audits = chain === undefined ? [auditBytes(own)] : [auditBytes(own), auditBytes(chain)];
  const appCred =
    payload.applicationCredentialId === undefined
      ? undefined
      : taggedId(payload.applicationCredentialId, 'application_credential_id');

  const head = Buffer.allocUnsafe(19);
  head[0] = PAYLOAD_VERSION;
  head[1] =
    SCOPE_CODES[scope.kind] |
    (chain === undefined ? 0 : FLAG_CHAIN_AUDIT) |
    (appCred === undefined ? 0 : FLAG_APP_CRED);
  head[2] = methods;
  head.writeUInt32BE(Math.floor(expires / TWO_32), 3);
  head.writeUInt32BE(expires % TWO_32, 7);
  head.writeUInt32BE(Math.floor(issued / TWO_32), 11);
  head.writeUInt32BE(issued % TWO_32, 15);
  return Buffer.concat(
    appCred === undefined ? [head, ...ids, ...audits] : [head, ...ids, ...audits, appCred],
  );
}

/** Reads the layout above; every overrun or leftover byte is an invalid token. */
class Reader {
  readonly #data: Buffer;
  #at = 0;

  constructor(data: Buffer) {
    this.#data = data;
  }

  take(length: number): number {
    const at = this.#at;
    if (at + length > this.#data.length) throw new InvalidTokenError('payload');
    this.#at = at + length;
    return at;
  }

  byte(): number {
    return this.#data[this.take(1)] as number;
  }

  id(): string {
    const tag = this.byte();
    if (tag === 0) {
      const at = this.take(16);
      return this.#data.toString('hex', at, at + 16);
    }
    const at = this.take(tag);
    return this.#data.toString('utf8', at, at + tag);
  }

  audit(): string {
    const at = this.take(16);
    return this.#data.toString('base64url', at, at + 16);
  }

  end(): void {
    if (this.#at !== this.#data.length) throw new InvalidTokenError('payload');
  }
}

const SCOPE_KINDS = ['unscoped', 'project', 'domain', 'system'] as const;

/**
 * Decodes a payload made by `encodeTokenPayload`.
 * @throws InvalidTokenError (reason 'payload') for an unknown version or a malformed layout.
 */
export function decodeTokenPayload(data: Buffer): TokenPayload {
  const reader = new Reader(data);
  if (reader.byte() !== PAYLOAD_VERSION) throw new InvalidTokenError('payload');
  const flags = reader.byte();
  const bits = reader.byte();
  if (flags >> 4 !== 0 || bits >> AUTH_METHODS.length !== 0) {
    throw new InvalidTokenError('payload');
  }
  const at = reader.take(8);
  const expiresAtMicros = data.readUInt32BE(at) * TWO_32 + data.readUInt32BE(at + 4);
  const at2 = reader.take(8);
  const issuedAtMicros = data.readUInt32BE(at2) * TWO_32 + data.readUInt32BE(at2 + 4);
  if (!Number.isSafeInteger(expiresAtMicros) || !Number.isSafeInteger(issuedAtMicros)) {
    throw new InvalidTokenError('payload');
  }
  const methods = AUTH_METHODS.filter((_, bit) => (bits & (1 << bit)) !== 0);
  const userId = reader.id();
  const kind = SCOPE_KINDS[flags & 0b11] as TokenScope['kind'];
  let scope: TokenScope;
  if (kind === 'project') scope = { kind, projectId: reader.id() };
  else if (kind === 'domain') scope = { kind, domainId: reader.id() };
  else if (kind === 'system') scope = { kind, system: 'all' };
  else scope = { kind };
  const own = reader.audit();
  const auditIds: TokenPayload['auditIds'] =
    (flags & FLAG_CHAIN_AUDIT) === 0 ? [own] : [own, reader.audit()];
  const payload: TokenPayload = {
    userId,
    methods,
    scope,
    expiresAtMicros,
    issuedAtMicros,
    auditIds,
  };
  if ((flags & FLAG_APP_CRED) === 0) {
    reader.end();
    return payload;
  }
  const applicationCredentialId = reader.id();
  reader.end();
  return { ...payload, applicationCredentialId };
}
