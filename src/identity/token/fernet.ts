/**
 * The Fernet token format (https://github.com/fernet/spec, version 0x80), byte for byte, so keys
 * and tokens interoperate with Python's `cryptography.fernet` and so with Keystone:
 *
 *     0x80 ‖ timestamp (u64 BE seconds) ‖ IV (16) ‖ AES-128-CBC/PKCS7 ciphertext ‖ HMAC-SHA256 (32)
 *
 * base64url encoded. The HMAC covers everything before it. A key is 32 bytes in base64url: the
 * first half signs, the second half encrypts.
 *
 * Speed: keys are parsed once into `KeyObject`s. Node converts a raw `Buffer` key on every
 * `createHmac`/`createDecipheriv` call, which measured about five times slower per token.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { FernetKeyError, InvalidTokenError } from './errors.ts';
import { randomFromPool } from './random.ts';

export interface FernetKey {
  readonly signingKey: KeyObject;
  readonly encryptionKey: KeyObject;
}

/** Where keys come from, primary first. `FernetKeyRepository` is one; a fixed list is another. */
export interface FernetKeySource {
  keys(): readonly FernetKey[];
}

export interface FernetDecryptOptions {
  /** The current time in Unix seconds. Without it no time check is made (like Python's decrypt). */
  readonly now?: number;
  /** Refuse tokens older than this many seconds (Fernet's TTL). Needs `now`. */
  readonly ttlSeconds?: number;
  /** Refuse tokens stamped more than this far after `now`; default 60 s as in `cryptography`. */
  readonly maxClockSkewSeconds?: number;
}

export interface FernetDecrypted {
  readonly plaintext: Buffer;
  /** The token's creation time in Unix seconds, as written by the issuer. */
  readonly timestamp: number;
  /** Position in the key list of the key that opened the token (0: the primary). */
  readonly keyIndex: number;
}

const VERSION = 0x80;
const HEADER = 1 + 8 + 16;
const MAC = 32;
const BLOCK = 16;
const MIN_LENGTH = HEADER + BLOCK + MAC;
const DEFAULT_SKEW_SECONDS = 60;
const TWO_32 = 0x1_0000_0000;

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/** The 6-bit value of a base64url character already known to be in the alphabet. */
function sextet(code: number): number {
  if (code >= 65 && code <= 90) return code - 65; // A-Z
  if (code >= 97 && code <= 122) return code - 71; // a-z
  if (code >= 48 && code <= 57) return code + 4; // 0-9
  return code === 45 ? 62 : 63; // '-' or '_'
}

/**
 * Strict base64url decoding, with or without `=` padding (Keystone strips it, Python needs it).
 * Node's own decoder skips characters outside the alphabet and ignores stray trailing bits, so
 * many strings would map to one token; this accepts only the canonical spelling of each byte
 * string. Returns undefined for anything else.
 */
export function decodeBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61) end--;
  if (end < text.length && text.length % 4 !== 0) return undefined;
  const rest = end % 4;
  if (rest === 1) return undefined;
  if (rest !== 0) {
    // The last character carries 4 (rest 2) or 2 (rest 3) bits that encode nothing: must be 0.
    const unused = rest === 2 ? 0x0f : 0x03;
    if ((sextet(text.charCodeAt(end - 1)) & unused) !== 0) return undefined;
  }
  return Buffer.from(text, 'base64url');
}

/** Re-adds the `=` padding Keystone strips, for clients that insist on it (Python's Fernet). */
export function restorePadding(token: string): string {
  const rest = token.length % 4;
  return rest === 0 ? token : token + '='.repeat(4 - rest);
}

/** A new random key in the spec's text form (44 characters, url-safe base64 with padding). */
export function generateFernetKey(): string {
  return restorePadding(randomBytes(32).toString('base64url'));
}

/**
 * Parses a key in the spec's text form. Surrounding whitespace is ignored (a key file written
 * with `echo` ends in a newline, which Python's decoder skips too).
 * @throws FernetKeyError when the text is not 32 bytes of base64url.
 */
export function parseFernetKey(text: string): FernetKey {
  const raw = decodeBase64Url(text.trim());
  if (raw?.length !== 32) {
    throw new FernetKeyError('A Fernet key must be 32 url-safe base64-encoded bytes.');
  }
  return {
    signingKey: createSecretKey(raw.subarray(0, 16)),
    encryptionKey: createSecretKey(raw.subarray(16, 32)),
  };
}

/**
 * Encrypts `plaintext` into a Fernet token without `=` padding (as Keystone sends tokens).
 * @param now Unix seconds; the fraction is dropped, as the format stores whole seconds.
 * @param iv 16 bytes; random by default. Pass one only to reproduce test vectors.
 * @throws RangeError for a negative or non-finite `now`, or an IV that is not 16 bytes.
 */
export function encrypt(
  plaintext: Buffer,
  key: FernetKey,
  now: number,
  iv: Buffer = randomFromPool(16),
): string {
  const seconds = Math.floor(now);
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new RangeError(`Fernet timestamp must be a non-negative number of seconds: ${now}`);
  }
  if (iv.length !== 16) throw new RangeError('A Fernet IV is 16 bytes.');
  const cipher = createCipheriv('aes-128-cbc', key.encryptionKey, iv);
  const body = cipher.update(plaintext);
  const tail = cipher.final();
  const length = HEADER + body.length + tail.length + MAC;
  const out = Buffer.allocUnsafe(length);
  out[0] = VERSION;
  out.writeUInt32BE(Math.floor(seconds / TWO_32), 1);
  out.writeUInt32BE(seconds % TWO_32, 5);
  iv.copy(out, 9);
  body.copy(out, HEADER);
  tail.copy(out, HEADER + body.length);
  createHmac('sha256', key.signingKey)
    .update(out.subarray(0, length - MAC))
    .digest()
    .copy(out, length - MAC);
  return out.toString('base64url');
}

/**
 * Verifies and decrypts a Fernet token with the first key whose HMAC matches (list the primary
 * first: it opens most tokens). Padded and unpadded tokens are both accepted.
 * @throws InvalidTokenError for anything wrong with the token; nothing else is thrown.
 */
export function decrypt(
  token: string,
  keys: readonly FernetKey[],
  options: FernetDecryptOptions = {},
): FernetDecrypted {
  const data = decodeBase64Url(token);
  if (
    data === undefined ||
    data.length < MIN_LENGTH ||
    (data.length - HEADER - MAC) % BLOCK !== 0 ||
    data[0] !== VERSION
  ) {
    throw new InvalidTokenError('malformed');
  }
  const timestamp = data.readUInt32BE(1) * TWO_32 + data.readUInt32BE(5);
  const { now, ttlSeconds } = options;
  if (now !== undefined) {
    // Checked before the HMAC, as the spec orders it: a stale or future token costs no hashing.
    if (ttlSeconds !== undefined && timestamp + ttlSeconds < now) {
      throw new InvalidTokenError('expired');
    }
    if (timestamp > now + (options.maxClockSkewSeconds ?? DEFAULT_SKEW_SECONDS)) {
      throw new InvalidTokenError('future');
    }
  }
  const signed = data.subarray(0, data.length - MAC);
  const mac = data.subarray(data.length - MAC);
  for (let keyIndex = 0; keyIndex < keys.length; keyIndex++) {
    const key = keys[keyIndex] as FernetKey;
    const expected = createHmac('sha256', key.signingKey).update(signed).digest();
    if (!timingSafeEqual(expected, mac)) continue;
    const decipher = createDecipheriv('aes-128-cbc', key.encryptionKey, data.subarray(9, HEADER));
    let plaintext: Buffer;
    try {
      const body = decipher.update(data.subarray(HEADER, data.length - MAC));
      const tail = decipher.final();
      plaintext = tail.length === 0 ? body : Buffer.concat([body, tail]);
    } catch {
      // Only an issuer with the key can produce this: bad PKCS7 padding under a valid HMAC.
      throw new InvalidTokenError('payload');
    }
    return { plaintext, timestamp, keyIndex };
  }
  throw new InvalidTokenError('signature');
}
