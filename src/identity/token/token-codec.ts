/**
 * Issues and opens identity tokens: a `TokenPayload` sealed in a Fernet token under the key
 * repository's primary key, opened with any of its keys. Stateless: nothing is stored, so any
 * process holding the same keys validates any other's tokens.
 *
 * Expiry is deliberately not checked here: the caller compares `expiresAtMicros` with its clock,
 * and Keystone's `allow_expired` needs the payload of an expired token.
 */
import { FernetKeyError, InvalidTokenError } from './errors.ts';
import { decrypt, encrypt, type FernetKeySource } from './fernet.ts';
import { decodeTokenPayload, encodeTokenPayload, type TokenPayload } from './payload.ts';

export interface TokenCodecOptions {
  /** Milliseconds since the epoch; `Date.now` by default. */
  readonly clock?: () => number;
  /** How far past the local clock a token's issue time may be (other hosts' clocks drift). */
  readonly maxClockSkewSeconds?: number;
}

export interface IssuedToken {
  readonly token: string;
  /** Unix seconds, the token's Fernet timestamp. */
  readonly issuedAt: number;
}

export interface OpenedToken {
  readonly payload: TokenPayload;
  /** Unix seconds, the token's Fernet timestamp (Keystone's issued_at). */
  readonly issuedAt: number;
}

/** Our tokens stay under 300 characters; refusing far longer input bounds the work per request. */
const MAX_TOKEN_LENGTH = 1024;

export class TokenCodec {
  readonly #keys: FernetKeySource;
  readonly #clock: () => number;
  readonly #skew: number;

  constructor(keys: FernetKeySource, options: TokenCodecOptions = {}) {
    this.#keys = keys;
    this.#clock = options.clock ?? Date.now;
    this.#skew = options.maxClockSkewSeconds ?? 60;
  }

  /**
   * Seals a payload under the primary key.
   * @throws FernetKeyError when the key source holds no key.
   * @throws RangeError for a payload no token can carry (see `encodeTokenPayload`).
   */
  issue(payload: TokenPayload): IssuedToken {
    const primary = this.#keys.keys()[0];
    if (primary === undefined) throw new FernetKeyError('No Fernet key to issue tokens with.');
    const issuedAt = Math.floor(this.#clock() / 1000);
    return { token: encrypt(encodeTokenPayload(payload), primary, issuedAt), issuedAt };
  }

  /**
   * Authenticates and decodes a token, expired or not.
   * @throws InvalidTokenError for a malformed, forged, foreign, future-dated or undecodable token.
   * @throws FernetKeyError when the key repository cannot be read at all.
   */
  open(token: string): OpenedToken {
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('malformed');
    const { plaintext, timestamp } = decrypt(token, this.#keys.keys(), {
      now: this.#clock() / 1000,
      maxClockSkewSeconds: this.#skew,
    });
    return { payload: decodeTokenPayload(plaintext), issuedAt: timestamp };
  }
}
