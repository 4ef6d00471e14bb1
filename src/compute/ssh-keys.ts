/**
 * Key pair material as Nova handles it: the MD5 fingerprint of an OpenSSH public key (colon hex
 * of the decoded key blob), the SHA-1 fingerprint of an X.509 certificate, and server-side
 * generation of an RSA key pair (the private key in PKCS#1 PEM, the public key in OpenSSH form).
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';

/** The OpenSSH public key algorithms Nova accepts. */
const SSH_TYPES = new Set([
  'ssh-rsa',
  'ssh-dss',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

function colonHex(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The fingerprint of `publicKey`, or undefined when it is not a key of `type`. */
export function fingerprintOf(publicKey: string, type: 'ssh' | 'x509'): string | undefined {
  if (type === 'x509') {
    try {
      return new X509Certificate(publicKey).fingerprint.toLowerCase();
    } catch {
      return undefined;
    }
  }
  const [algorithm, data] = publicKey.trim().split(/\s+/);
  if (algorithm === undefined || data === undefined || !SSH_TYPES.has(algorithm)) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return undefined;
  const blob = Buffer.from(data, 'base64');
  // The blob starts with the algorithm's name as an SSH string (a 4-byte length, then the name).
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (blob.subarray(4, 4 + length).toString('latin1') !== algorithm) return undefined;
  return colonHex(createHash('md5').update(blob).digest());
}

/** An SSH string: a 4-byte big-endian length, then the bytes. */
function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An SSH mpint: big-endian, with a leading zero byte when the top bit is set. */
function sshMpint(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return sshString((trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** A new 2048-bit RSA key pair, as Nova generates one for a key pair created without a key. */
export function generateKeyPair(comment: string): {
  publicKey: string;
  privateKey: string;
  fingerprint: string;
} {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([
    sshString(Buffer.from('ssh-rsa')),
    sshMpint(Buffer.from(jwk.e ?? '', 'base64url')),
    sshMpint(Buffer.from(jwk.n ?? '', 'base64url')),
  ]);
  const openssh = `ssh-rsa ${blob.toString('base64')} ${comment}`;
  return {
    publicKey: openssh,
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    fingerprint: colonHex(createHash('md5').update(blob).digest()),
  };
}
