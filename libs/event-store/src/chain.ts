import { hash } from 'node:crypto';

/**
 * The hash chain that makes the global log tamper-evident.
 *
 * Every event's `hash` is SHA-256 over its predecessor's hash and its own envelope:
 *
 *     prevHash \n streamId \n revision \n eventId \n type \n schemaVersion \n recordedAtMs \n metadata \n dataDigest
 *
 * where `metadata` is the canonical JSON of the event's metadata without `$`-prefixed keys (those
 * belong to the store or its instrumentation) and `dataDigest` is SHA-256 of the canonical JSON
 * payload. Hashing the payload's digest rather than the payload keeps the chain verifiable after an
 * authorised redaction of a payload. Stream ids and types cannot contain control characters and
 * canonical JSON never contains a raw newline, so the encoding is unambiguous. The global position
 * is not hashed: order is carried by the links, and signed checkpoints bind positions to hashes.
 *
 * PostgreSQL computes the same function in SQL (`migrations/postgres`); a test keeps the two equal.
 */
export const CHAIN_VERSION = 1;

/** The fields of an event that its chain hash covers. */
export interface ChainFields {
  readonly streamId: string;
  readonly revision: number;
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly recordedAtMs: number;
  /** Canonical JSON of the metadata without `$`-prefixed keys. */
  readonly metadataJson: string;
  /** SHA-256 (hex) of the canonical JSON payload. */
  readonly dataDigest: string;
}

/** An event as the chain sees it: what a verifier reads from any backend. */
export interface ChainRecord extends ChainFields {
  /** Global position (1-based and gapless on sqlite and postgres). */
  readonly position: number;
  readonly prevHash: string;
  readonly hash: string;
  /** The stored payload (canonical JSON). */
  readonly dataJson: string;
}

/** The `prevHash` of a store's first event: binds the chain to the store's id. */
export function genesisHash(storeId: string): string {
  return hash('sha256', `sscontrol-event-chain/v${CHAIN_VERSION}\n${storeId}`, 'hex');
}

/** SHA-256 (hex) of a payload's canonical JSON. */
export function payloadDigest(dataJson: string): string {
  return hash('sha256', dataJson, 'hex');
}

/** The chain hash of an event given its predecessor's hash. */
export function chainHash(prevHash: string, f: ChainFields): string {
  return hash(
    'sha256',
    `${prevHash}\n${f.streamId}\n${f.revision}\n${f.eventId}\n${f.type}\n${f.schemaVersion}\n${f.recordedAtMs}\n${f.metadataJson}\n${f.dataDigest}`,
    'hex',
  );
}
