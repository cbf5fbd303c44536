import { generateKeyPairSync } from 'node:crypto';
import {
  checkpointKeyId,
  checkpointSigningPayload,
  endorsementPayload,
  publicKeyFingerprint,
  signBytes,
  verifyBytes,
} from './checkpoint-signature.js';
import type { Checkpoint } from './catalogue/audit-trail.events.js';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const unsigned = {
  v: 1 as const,
  storeId: '01900000-0000-4000-8000-000000000000',
  seq: 2,
  fromPosition: 11,
  toPosition: 20,
  count: 10,
  headHash: 'a'.repeat(64),
  anchors: [],
  prevSignature: 'c2ln',
  keyId: checkpointKeyId(pub),
  signedAt: '2026-11-25T12:00:00.000Z',
};

describe('checkpoint signatures', () => {
  it('sign the canonical JSON of every field but the signature, chaining the previous signature', () => {
    const signature = signBytes(priv, checkpointSigningPayload(unsigned));
    const cp: Checkpoint = { ...unsigned, signature };
    expect(verifyBytes(pub, checkpointSigningPayload(cp), signature)).toBe(true);
    expect(checkpointSigningPayload(cp).toString()).toBe(
      checkpointSigningPayload(unsigned).toString(),
    );
    for (const change of [
      { toPosition: 21 },
      { prevSignature: 'b3RoZXI=' },
      { headHash: 'b'.repeat(64) },
    ]) {
      expect(verifyBytes(pub, checkpointSigningPayload({ ...cp, ...change }), signature)).toBe(
        false,
      );
    }
  });

  it('derive key ids and fingerprints from the public key only', () => {
    expect(publicKeyFingerprint(pub)).toMatch(/^[0-9a-f]{64}$/);
    expect(checkpointKeyId(pub)).toBe(`ck-${publicKeyFingerprint(pub).slice(0, 16)}`);
  });

  it('answer false, not throw, for garbage signatures or keys', () => {
    expect(verifyBytes(pub, endorsementPayload('s', 'k', pub), '!!!')).toBe(false);
    expect(verifyBytes('not a key', Buffer.from('x'), 'AAAA')).toBe(false);
  });
});
