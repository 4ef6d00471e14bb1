/**
 * Errors of the token module. They are plain classes, not `ApiError`s: the identity service
 * decides how each surfaces (an unusable subject token is a 404 on `GET /v3/auth/tokens`, an
 * unusable `X-Auth-Token` a 401), and a broken key repository is a server fault.
 */

/** Why a token was refused; for logs and metrics only, never for the client (it helps forgers). */
export type InvalidTokenReason =
  /** Not base64url, too short, wrong version byte or a ciphertext that is not whole blocks. */
  | 'malformed'
  /** No key's HMAC matches: tampered, or made with a key this repository no longer holds. */
  | 'signature'
  /** The Fernet timestamp is further in the future than the allowed clock skew. */
  | 'future'
  /** Older than the Fernet time-to-live the caller asked for. */
  | 'expired'
  /** Authentic, but the plaintext does not decode (bad padding or an unknown payload layout). */
  | 'payload';

export class InvalidTokenError extends Error {
  readonly reason: InvalidTokenReason;

  constructor(reason: InvalidTokenReason, message = `Invalid token (${reason}).`) {
    super(message);
    this.name = 'InvalidTokenError';
    this.reason = reason;
  }
}

/** Bad key material, or a key repository that cannot be read or changed. */
export class FernetKeyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FernetKeyError';
  }
}
