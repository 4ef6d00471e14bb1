/**
 * An Ed25519 key pair made in the test, with no `ssh-keygen`: the public key as an
 * `authorized_keys` line, the private key in Dropbear's own format (what `dbclient -i` reads:
 * the key type, then the 32-byte seed and the 32-byte public key, each as an SSH string).
 */
import { generateKeyPairSync } from 'node:crypto';

function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

export type TestSshKey = { publicLine: string; dropbearPrivate: Buffer };

export function testSshKey(comment: string): TestSshKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // The raw keys are the last 32 bytes of their DER encodings.
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.concat([sshString(type), sshString(pub)]);
  return {
    publicLine: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
    dropbearPrivate: Buffer.concat([sshString(type), sshString(Buffer.concat([seed, pub]))]),
  };
}
