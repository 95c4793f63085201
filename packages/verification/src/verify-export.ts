// Offline verification of a JSONL export, on a machine without the store: the same chain and seal
// checks as verifyAll, plus the export's own trailer (line count, digest of every line, signature)
// so a file that was cut, spliced or edited is caught too.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ErrorCode, UserError, canonicalJson } from '@aifactory/core';
import { checkpointSignatureValid, parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import {
  RunChainVerifier,
  SealChainVerifier,
  type ChainAnchor,
  type RunRow,
  type StoredEvent,
  type StoredSeal,
  type VerificationProblem,
  type VerificationReport,
} from './chain-verifier.ts';
import { exportFormat, exportVersion, trailerMessage } from './export.ts';
import type { RedactionNote } from './hash-chain.ts';
import { keyIdOf, verifySealSignature } from './seal-signer.ts';
import type { VerificationSummary } from './verify.ts';
import { trustedCheckpoints, type Witness } from './witness.ts';

/** The verdict on an export file. */
export interface ExportVerificationSummary extends VerificationSummary {
  /** Keys the export lists (key id and public key). */
  keys: Array<{ keyId: string; publicKey: string }>;
  /** Whether the trailer's digest and signature verified. */
  trailer: { present: boolean; signed: boolean; ok: boolean };
}

/** Options of verifyExport. */
export interface VerifyExportOptions {
  /** Trusted keys (public keys or key ids); absent: the keys listed in the export, reported as unpinned. */
  trustedKeys?: readonly string[];
  /** Per-run callback. */
  onReport?: (report: VerificationReport) => void;
  /**
   * A witness holding the store's checkpoints. A complete (`--all`) export must reach every
   * checkpoint the witness holds up to the export's head; a selection must agree with every
   * checkpoint of a seal it carries.
   */
  witness?: Witness;
}

/** Verifies an export file line by line (flat memory apart from one small entry per seal). */
export async function verifyExportFile(file: string, options: VerifyExportOptions = {}): Promise<ExportVerificationSummary> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    throw new UserError(ErrorCode.NotFound, `Export file '${file}' cannot be read: ${(error as Error).message}`, { cause: error });
  }
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    return await verifyExport(lines, options);
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** Verifies export lines (without their newlines). */
export async function verifyExport(lines: AsyncIterable<string>, options: VerifyExportOptions = {}): Promise<ExportVerificationSummary> {
  const summary: ExportVerificationSummary = {
    ok: true,
    runs: 0,
    events: 0,
    erased: 0,
    sealed: 0,
    failed: 0,
    failures: [],
    warnings: [],
    sealChain: { ok: true, seals: 0, keyIds: [] },
    pinned: options.trustedKeys !== undefined,
    tail: { checkedBy: 'none', storeId: null, headSeq: 0, message: '' },
    keys: [],
    trailer: { present: false, signed: false, ok: false },
  };
  const digest = createHash('sha256');
  let lineNumber = 0;
  let complete = false;
  let version = 1;
  let storeId: string | null | undefined;
  let attestedSince: string | undefined;
  let headerCheckpoint: Checkpoint | undefined;
  const runIds = createHash('sha256');
  let trusted: readonly string[] | undefined = options.trustedKeys;
  let exportProblem: VerificationProblem | undefined;
  const seals: StoredSeal[] = [];
  let current:
    { verifier: RunChainVerifier; run: RunRow; seal: StoredSeal | undefined; latest: StoredSeal | undefined; events: number } | undefined;
  const invalid = (message: string) => {
    exportProblem ??= { kind: 'export_invalid', message: `Line ${lineNumber}: ${message}` };
  };
  const finishRun = () => {
    if (!current) return;
    const report = current.verifier.finish(current.run, { final: current.seal, latest: current.latest }, trusted);
    summary.runs += 1;
    summary.events += report.events;
    summary.erased += report.erased;
    if (report.sealed) summary.sealed += 1;
    summary.warnings.push(...report.warnings.slice(0, Math.max(0, 100 - summary.warnings.length)));
    if (!report.ok) {
      summary.failed += 1;
      if (summary.failures.length < 100) summary.failures.push(report);
    }
    options.onReport?.(report);
    current = undefined;
  };

  for await (const line of lines) {
    lineNumber += 1;
    if (summary.trailer.present) {
      if (line.trim() !== '') invalid('content follows the trailer (lines were appended to the export).');
      continue;
    }
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      invalid('not a JSON object.');
      break;
    }
    if (record.kind !== 'trailer') digest.update(`${line}\n`);
    if (lineNumber === 1) {
      if (record.kind !== 'header' || record.format !== exportFormat) {
        invalid(`not an aifactory trace export (expected a header line with format '${exportFormat}').`);
        break;
      }
      if (record.version !== 1 && record.version !== exportVersion) {
        invalid(`export version ${String(record.version)} is not supported (this verifier reads versions 1 and ${exportVersion}).`);
        break;
      }
      version = record.version;
      complete = record.complete === true;
      if (version >= 2) {
        storeId = typeof record.store_id === 'string' ? record.store_id : null;
        attestedSince = typeof record.attested_since === 'string' ? record.attested_since : undefined;
        if (record.checkpoint !== null && record.checkpoint !== undefined) {
          const parsed = parseCheckpoint(record.checkpoint);
          if (typeof parsed === 'string') invalid(`the header's checkpoint is invalid: ${parsed}.`);
          else headerCheckpoint = parsed;
        }
      }
      summary.keys = (Array.isArray(record.keys) ? (record.keys as Array<{ key_id: string; public_key: string }>) : []).map((key) => ({
        keyId: key.key_id,
        publicKey: key.public_key,
      }));
      for (const key of summary.keys) {
        if (keyIdOf(key.publicKey) !== key.keyId) invalid(`key ${key.keyId} does not match its public key.`);
      }
      trusted ??= summary.keys.map((key) => key.publicKey);
      continue;
    }
    switch (record.kind) {
      case 'run':
        finishRun();
        runIds.update(`${String(record.id)}\n`);
        current = {
          verifier: new RunChainVerifier(String(record.id), { attestedSince }),
          run: {
            id: String(record.id),
            agent: String(record.agent),
            team: (record.team as string | null) ?? null,
            principal: String(record.principal),
            status: String(record.status),
            ...(version >= 2 && typeof record.started_at === 'string' ? { startedAt: record.started_at } : {}),
            ...(version >= 2
              ? { replayOf: (record.replay_of as string | null) ?? null, parentRunId: (record.parent_run_id as string | null) ?? null }
              : {}),
          },
          seal: undefined,
          latest: undefined,
          events: 0,
        };
        break;
      case 'event': {
        if (!current || record.run_id !== current.run.id) {
          invalid(`event ${String(record.run_id)}#${String(record.seq)} is outside its run's block.`);
          break;
        }
        const event: StoredEvent = {
          runId: String(record.run_id),
          seq: Number(record.seq),
          ts: new Date(String(record.ts)),
          type: String(record.type),
          actor: String(record.actor),
          payloadText: record.payload === null || record.payload === undefined ? null : canonicalJson(record.payload),
          payloadSalt: (record.payload_salt as string | null) ?? null,
          payloadHash: String(record.payload_hash),
          schemaVersion: Number(record.schema_version),
          redactions: (record.redactions as RedactionNote[] | null) ?? null,
          erasedAt: record.erased_at ? new Date(String(record.erased_at)) : null,
          prevHash: String(record.prev_hash),
          hash: String(record.hash),
        };
        current.events += 1;
        current.verifier.add(event);
        break;
      }
      case 'seal': {
        const seal: StoredSeal = {
          seq: Number(record.seq),
          kind: typeof record.seal_kind === 'string' ? record.seal_kind : 'final',
          storeId: typeof record.store_id === 'string' ? record.store_id : null,
          runId: String(record.run_id),
          headSeq: Number(record.head_seq),
          headHash: String(record.head_hash),
          keyId: String(record.key_id),
          publicKey: String(record.public_key),
          prevSealHash: String(record.prev_seal_hash),
          sealHash: String(record.seal_hash),
          signature: String(record.signature),
          ts: new Date(String(record.ts)),
        };
        if (!current || seal.runId !== current.run.id) {
          invalid(`seal ${seal.seq} of run '${seal.runId}' is outside its run's block.`);
          break;
        }
        if (seal.kind === 'final') current.seal = seal;
        else if (current.events > 0)
          invalid(`seal ${seal.seq} of run '${seal.runId}' follows the run's events (a version 2 export lists seals first).`);
        else if (!current.latest || seal.headSeq >= current.latest.headSeq) {
          current.latest = seal;
          current.verifier.expectCheckpoint(seal);
        }
        seals.push(seal);
        break;
      }
      case 'trailer': {
        finishRun();
        summary.trailer.present = true;
        const expectedLines = lineNumber - 1;
        const hex = digest.digest('hex');
        if (record.lines !== expectedLines || record.digest !== hex) {
          invalid(
            `the trailer does not match the file (it counts ${String(record.lines)} lines with digest ${String(record.digest)}; the file has ${expectedLines} lines with digest ${hex}): lines were removed, added or changed.`,
          );
          break;
        }
        const runs = version >= 2 ? { count: summary.runs, digest: runIds.digest('hex') } : undefined;
        if (runs && (record.runs !== runs.count || record.runs_digest !== runs.digest)) {
          invalid(
            `the trailer lists ${String(record.runs)} runs (digest ${String(record.runs_digest)}), the file holds ${runs.count} (digest ${runs.digest}): runs were dropped or added.`,
          );
          break;
        }
        if (typeof record.signature === 'string') {
          summary.trailer.signed = true;
          const key = summary.keys.find((candidate) => candidate.keyId === record.key_id);
          const isTrusted = key && (!trusted || trusted.includes(key.publicKey) || trusted.includes(key.keyId));
          if (
            !key ||
            !isTrusted ||
            !verifySealSignature(key.publicKey, trailerMessage(hex, expectedLines, runs, version), record.signature)
          ) {
            invalid(`the trailer's signature by ${String(record.key_id)} does not verify with a trusted key.`);
            break;
          }
        } else if (options.trustedKeys) {
          // A pinned key vouches for nothing an unsigned trailer says: anyone could have written it.
          invalid(
            'the trailer is not signed, but a key was pinned: the file cannot be shown to come from that key (it was exported without one, or its signature was stripped).',
          );
          break;
        } else {
          summary.warnings.push('The export trailer is not signed: the file was exported without a seal key.');
        }
        summary.trailer.ok = true;
        break;
      }
      default:
        invalid(`unknown line kind '${String(record.kind)}'.`);
    }
  }
  finishRun();
  if (lineNumber === 0) invalid('the export is empty.');
  else if (!summary.trailer.present)
    exportProblem ??= { kind: 'export_invalid', message: `The export ends at line ${lineNumber} without its trailer: the file was cut.` };

  // The header's checkpoint: the seal chain's head when the export began, signed by a trusted key.
  const anchors: ChainAnchor[] = [];
  if (headerCheckpoint) {
    const trustedKey = !trusted || trusted.includes(headerCheckpoint.publicKey) || trusted.includes(headerCheckpoint.keyId);
    if (!trustedKey || !checkpointSignatureValid(headerCheckpoint) || headerCheckpoint.storeId !== storeId)
      exportProblem ??= { kind: 'export_invalid', message: "The header's checkpoint is not signed by a trusted key for this store." };
    else if (complete) anchors.push({ seq: headerCheckpoint.sealSeq, sealHash: headerCheckpoint.sealHash, source: 'anchor' });
  } else if (version >= 2 && complete && options.trustedKeys && seals.length > 0) {
    exportProblem ??= {
      kind: 'export_invalid',
      message:
        'The export claims to be complete but carries no signed checkpoint of the seal chain, so a removed newest run could not be seen.',
    };
  }
  seals.sort((left, right) => left.seq - right.seq);
  const exportHead = Math.max(headerCheckpoint?.sealSeq ?? 0, seals.at(-1)?.seq ?? 0);
  if (options.witness) {
    const takenAt = complete && headerCheckpoint && anchors.length > 0 ? Date.parse(headerCheckpoint.ts) : undefined;
    const witnessed = await witnessAnchors(options.witness, storeId, trusted, {
      complete,
      exportHead,
      takenAt,
      carried: new Set(seals.map((seal) => seal.seq)),
    });
    anchors.push(...witnessed.anchors);
    summary.warnings.push(...witnessed.warnings);
    summary.tail = {
      checkedBy: witnessed.anchors.length > 0 ? 'witness' : 'none',
      storeId: storeId ?? null,
      headSeq: exportHead,
      ...(witnessed.checkedSeq !== undefined ? { checkedSeq: witnessed.checkedSeq } : {}),
      message: witnessed.message,
    };
  }
  const chain = new SealChainVerifier({ trusted, partial: !complete, anchors, ...(version >= 2 ? { storeId } : {}) });
  for (const seal of seals) chain.add(seal);
  summary.sealChain = chain.finish();
  summary.ok = summary.failed === 0 && summary.sealChain.ok && exportProblem === undefined;
  summary.problem = exportProblem ?? summary.failures[0]?.problem ?? summary.sealChain.problem;
  return summary;
}

/** The witness's checkpoints an export must agree with, and the auditor's sentence about them. */
async function witnessAnchors(
  witness: Witness,
  storeId: string | null | undefined,
  trusted: readonly string[] | undefined,
  scope: { complete: boolean; exportHead: number; takenAt: number | undefined; carried: ReadonlySet<number> },
): Promise<{ anchors: ChainAnchor[]; warnings: string[]; checkedSeq?: number; message: string }> {
  if (!storeId) {
    return {
      anchors: [],
      warnings: [],
      message: `The export names no store identity (a version 1 export), so witness ${witness.location} cannot be consulted.`,
    };
  }
  const warnings: string[] = [];
  const anchors: ChainAnchor[] = [];
  let newer = 0;
  const { checkpoints, skippedWarning } = await trustedCheckpoints(witness, storeId, trusted);
  for (const checkpoint of checkpoints) {
    // A complete export must reach every checkpoint witnessed before its signed head was taken: one
    // past its head from before then means the newest runs were removed first. Seals newer than
    // that were made after the export; a selection vouches only for the seals it carries.
    const before = scope.takenAt !== undefined && Date.parse(checkpoint.ts) <= scope.takenAt;
    if (scope.complete && (checkpoint.sealSeq <= scope.exportHead || before))
      anchors.push({ seq: checkpoint.sealSeq, sealHash: checkpoint.sealHash, source: 'witness' });
    else if (checkpoint.sealSeq > scope.exportHead) newer += 1;
    else if (scope.carried.has(checkpoint.sealSeq))
      anchors.push({ seq: checkpoint.sealSeq, sealHash: checkpoint.sealHash, source: 'witness' });
  }
  if (skippedWarning) warnings.push(skippedWarning);
  const checkedSeq = anchors.length > 0 ? Math.max(...anchors.map((anchor) => anchor.seq)) : undefined;
  const later = newer > 0 ? ` The witness also holds ${newer} checkpoint(s) newer than the export (made after it was taken).` : '';
  const message =
    anchors.length === 0
      ? `Witness ${witness.location} holds no checkpoint of store ${storeId} up to this export's head (seal ${scope.exportHead}) signed by a trusted key: the export was not checked against it.${later}`
      : scope.complete
        ? `The export's seal chain (head: seal ${scope.exportHead}) reaches every checkpoint witness ${witness.location} holds for store ${storeId} up to it (newest: seal ${checkedSeq}).${later}`
        : `The ${anchors.length} seal(s) of this selection that witness ${witness.location} holds checkpoints of match them; a selection cannot show that other runs were removed.${later}`;
  return { anchors, warnings, ...(checkedSeq !== undefined ? { checkedSeq } : {}), message };
}
