import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { canonicalJson } from '@sscontrol/event-store';
import type { Checkpoint } from './catalogue/audit-trail.events.js';

/** A checkpoint before it is signed. */
export type UnsignedCheckpoint = Omit<Checkpoint, 'signature'>;

/** The bytes a checkpoint signature covers: canonical JSON of every field but the signature. */
export function checkpointSigningPayload(checkpoint: UnsignedCheckpoint | Checkpoint): Buffer {
  const { signature: _omit, ...rest } = checkpoint as Checkpoint;
  return Buffer.from(canonicalJson(rest));
}

/** The bytes a key endorsement covers. */
export function endorsementPayload(storeId: string, keyId: string, publicKeyPem: string): Buffer {
  return Buffer.from(canonicalJson({ storeId, keyId, publicKey: publicKeyPem }));
}

/** SHA-256 (hex) of an Ed25519 public key's SPKI DER encoding. */
export function publicKeyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** Key id derived from the fingerprint: `ck-` and its first 16 hex digits. */
export function checkpointKeyId(publicKeyPem: string): string {
  return `ck-${publicKeyFingerprint(publicKeyPem).slice(0, 16)}`;
}

export function signBytes(privateKeyPem: string | KeyObject, payload: Buffer): string {
  const key = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  return sign(null, payload, key).toString('base64');
}

/** Ed25519 verification; false for malformed keys or signatures rather than an exception. */
export function verifyBytes(
  publicKeyPem: string,
  payload: Buffer,
  signatureBase64: string,
): boolean {
  try {
    return verify(
      null,
      payload,
      createPublicKey(publicKeyPem),
      Buffer.from(signatureBase64, 'base64'),
    );
  } catch {
    return false;
  }
}
