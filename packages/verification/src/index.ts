// @aifactory/verification public API: anything exported here is public API.
// The verification plane: record hash-chained events (write-ahead), seal runs, verify, erase,
// redact, list and export. The owner API of the runs, run leases and events rows that the other
// planes drive runs through (leases, row lookups) is @aifactory/verification/internal.
export { eventPayloadSchemas, eventTypes, currentSchemaVersion, terminalEventTypes, isEventType } from './event-types.ts';
export type { EventType } from './event-types.ts';
export { createRecorder } from './recorder.ts';
export type {
  AppendOptions,
  Recorder,
  RecorderOptions,
  RecordedEvent,
  EventDraft,
  RunStart,
  RunOutcome,
  Seal,
  StartOptions,
} from './recorder.ts';
export type { BatchedRows } from './seal-writer.ts';
export { canonicalHeader, eventHash, genesisHash, newSalt, payloadHash } from './hash-chain.ts';
export type { EventHeader, RedactionNote } from './hash-chain.ts';
export {
  createSigner,
  defaultKeyPath,
  genesisSealHash,
  keyIdOf,
  loadOrCreateSigner,
  loadSigner,
  publicKeyPem,
  readPublicKeyFile,
  sealHash,
  sealMessage,
  verifySealSignature,
} from './seal-signer.ts';
export type { SealAnchor, SealFields, SealKind, SealSigner } from './seal-signer.ts';
export { checkpointJson, checkpointMessage, checkpointSignatureValid, parseCheckpoint, signCheckpoint } from './checkpoint.ts';
export type { Checkpoint } from './checkpoint.ts';
export { DirectoryWitness, HttpWitness, openWitness, parseWitnessLog, witnessFromEnvironment } from './witness.ts';
export type { Witness } from './witness.ts';
export { startWitnessServer } from './witness-server.ts';
export type { WitnessServer, WitnessServerOptions } from './witness-server.ts';
export { readStoreId } from './store-access.ts';
export { builtInPiiPatterns, createRedactor, ibanChecksumValid, loadOrCreateRedactionKey, loadRedactor, luhnValid } from './redaction.ts';
export type { BuiltInPii, Redacted, RedactionConfig, Redactor, RedactorOptions } from './redaction.ts';
export { createAtRestCipher, isSealedAtRest, loadAtRestCipher } from './at-rest-cipher.ts';
export type { AtRestCipher } from './at-rest-cipher.ts';
export { RunChainVerifier, SealChainVerifier, checkSealSignature, microsecondTime } from './chain-verifier.ts';
export type {
  ChainAnchor,
  ChainEvent,
  RunRow,
  RunSeals,
  SealChainReport,
  StoredEvent,
  StoredSeal,
  TrustedKeys,
  VerificationProblem,
  VerificationReport,
} from './chain-verifier.ts';
export { eventPages, readRunEvents, verifyAll, verifyRun } from './verify.ts';
export type { TailCheck, VerificationSummary, VerifyOptions } from './verify.ts';
export { erasePayloads } from './erasure.ts';
export type { ErasureRequest, ErasureResult } from './erasure.ts';
export { decodeRunCursor, encodeRunCursor, listRuns, listRunsPage } from './run-query.ts';
export type { RunFilter, RunPage, RunPosition, RunSummary } from './run-query.ts';
export { countRuns } from './run-counts.ts';
export { genAiSchemaUrl, recordedTraceParent, rootSpan, runSpanId, runTrace, runTraceId, spanSteps } from './gen-ai-spans.ts';
export type { RecordedTraceParent, RunTrace, SpanAttributes, SpanSourceEvent, SpanSourceRun, SpanStep } from './gen-ai-spans.ts';
export { recordedRunStart, recordedRunTrace, tracingRecorder } from './tracing-recorder.ts';
export type { RecordedRunStart } from './tracing-recorder.ts';
export { parseUsageDimensions, summarizeUsage, usageDimensions } from './usage-report.ts';
export type { UsageDimension, UsageQuery, UsageReport, UsageRow } from './usage-report.ts';
export type { RunCount } from './run-counts.ts';
export { eventLine, exportFormat, exportJsonl, exportOtlp, exportVersion, trailerMessage } from './export.ts';
export type { ExportOptions } from './export.ts';
export { verifyExport, verifyExportFile } from './verify-export.ts';
export type { ExportVerificationSummary, VerifyExportOptions } from './verify-export.ts';
export { explainRun, renderExplanationMarkdown, renderExplanationText } from './explain.ts';
export type { ExplainedAction, ExplainedCustody, ExplainedInfluence, ExplainedRule, RunExplanation } from './explain.ts';
export { parseArgumentCondition, searchRuns } from './run-search.ts';
export type { ArgumentCondition, RunSearchHit, RunSearchQuery } from './run-search.ts';
export { runStatistics } from './run-statistics.ts';
export type {
  ApprovalLatency,
  DecisionBucket,
  RunStatistics,
  RunStatisticsQuery,
  ViolationBucket,
  ViolationKind,
} from './run-statistics.ts';
