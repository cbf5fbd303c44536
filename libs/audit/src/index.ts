export { AuditError, AuditErrorCode, isAuditError } from './audit.errors.js';
export { actorSchema, envelopeSchema, sourceSchema, subjectsSchema } from './envelope.js';
export type { Actor, Envelope, Source, Subjects } from './envelope.js';
export { CATALOGUE, definitionOf } from './catalogue/catalogue.js';
export type { AuditEventType, AuditPayload } from './catalogue/catalogue.js';
export type { EventDefinition } from './catalogue/define-event.js';
export * from './catalogue/session.events.js';
export * from './catalogue/connection.events.js';
export * from './catalogue/key.events.js';
export * from './catalogue/job.events.js';
export * from './catalogue/incident.events.js';
export * from './catalogue/operator.events.js';
export * from './catalogue/instance.events.js';
export * from './catalogue/audit-trail.events.js';
export { decodeAuditEvent, upcast } from './audit-record.js';
export type { AuditRecord } from './audit-record.js';
export { AuditRecorder } from './audit-recorder.js';
export type {
  AuditContext,
  AuditEventInput,
  AuditRecorderOptions,
  RecordedAudit,
} from './audit-recorder.js';
export { AnchorLog } from './anchor-log.js';
export { CheckpointKeys } from './checkpoint-keys.js';
export type { CheckpointPublicKey, SecretCipher } from './checkpoint-keys.js';
export {
  checkpointKeyId,
  checkpointSigningPayload,
  endorsementPayload,
  publicKeyFingerprint,
  signBytes,
  verifyBytes,
} from './checkpoint-signature.js';
export { ANCHOR_INTERVAL, CheckpointSealer } from './checkpoint-sealer.js';
export type { CheckpointSealerOptions } from './checkpoint-sealer.js';
export { TamperClass, verificationRecord, verifyAuditTrail } from './audit-verifier.js';
export type { VerifyAuditTrailOptions, VerifyFailure, VerifyReport } from './audit-verifier.js';
export { AuditModule } from './audit.module.js';
export type { AuditModuleOptions } from './audit.module.js';
export { ExitCode, UsageError, exitCodeFor } from './exit-codes.js';
export type { WithExitCode } from './exit-codes.js';
export { runService } from './run-service.js';
