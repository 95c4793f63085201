// The checks behind every verification, independent of where events come from (the store or an
// export file): a run's chain event by event, its seal, and the seal chain across runs. Each
// check stops at the first break and says what differs, so an auditor can look at one row.
import { canonicalJson } from '@aifactory/core';
import { eventHash, genesisHash, payloadHash, type RedactionNote } from './hash-chain.ts';
import { genesisSealHash, keyIdOf, sealHash, sealMessage, verifySealSignature, type SealAnchor, type SealKind } from './seal-signer.ts';

/** An event as stored: what verification reads. */
export interface StoredEvent {
  runId: string;
  seq: number;
  ts: Date;
  type: string;
  actor: string;
  /** Canonical JSON text of the payload; null once erased. */
  payloadText: string | null;
  payloadSalt: string | null;
  payloadHash: string;
  schemaVersion: number;
  redactions: RedactionNote[] | null;
  erasedAt: Date | null;
  prevHash: string;
  hash: string;
}

/** An event as the chain check reads it: a stored event, or one whose ts is already the ISO text (Date#toISOString) its hash covers. */
export interface ChainEvent extends Omit<StoredEvent, 'ts'> {
  ts: Date | string;
}

/**
 * A runs row, as far as verification compares it with the run's events and seals: everything an
 * auditor reads about a run must be covered by the chain or derived from it. Fields left
 * undefined were not read (an export of an older format) and are not compared.
 */
export interface RunRow {
  id: string;
  agent: string;
  team: string | null;
  principal: string;
  status: string;
  /** The run's input as the row holds it (run.started's input; null when absent or erased). */
  input?: unknown;
  metadata?: unknown;
  replayOf?: string | null;
  parentRunId?: string | null;
  /** ISO 8601 UTC, any fraction (compared to the microsecond). */
  startedAt?: string;
  endedAt?: string | null;
}

/** The seals of one run: its end, its newest start or checkpoint seal, and whether any exists. */
export interface RunSeals {
  final?: StoredSeal | undefined;
  /** The start or checkpoint seal with the highest head_seq. */
  latest?: StoredSeal | undefined;
}

/** A seal as stored. */
export interface StoredSeal {
  seq: number;
  /** final, start or checkpoint (seals written before kinds existed are final). */
  kind?: string;
  /** The store identity the seal signs; null on seals written before store identities. */
  storeId?: string | null;
  runId: string;
  headSeq: number;
  headHash: string;
  keyId: string;
  publicKey: string;
  prevSealHash: string;
  sealHash: string;
  signature: string;
  ts: Date;
}

/** What broke, where. */
export interface VerificationProblem {
  /** Machine-readable kind of break. */
  kind:
    | 'seq_gap'
    | 'prev_hash_mismatch'
    | 'payload_mismatch'
    | 'hash_mismatch'
    | 'erasure_inconsistent'
    | 'run_missing'
    | 'run_row_mismatch'
    | 'events_missing'
    | 'seal_head_mismatch'
    | 'seal_signature_invalid'
    | 'seal_key_untrusted'
    | 'seal_chain_broken'
    | 'seal_chain_cut'
    | 'seal_run_missing'
    | 'checkpoint_mismatch'
    | 'run_unattested'
    | 'store_identity_mismatch'
    | 'witness_mismatch'
    | 'export_invalid';
  /** The run concerned, when one is. */
  runId?: string;
  /** The event (or, for seal problems, the seal) sequence number concerned. */
  seq?: number;
  /** One sentence: what differs. */
  message: string;
  /** The value verification computed or expected. */
  expected?: string;
  /** The value found. */
  actual?: string;
}

/** The verdict on one run. */
export interface VerificationReport {
  runId: string;
  /** True when the chain, the runs row and the seal (if any) all check out. */
  ok: boolean;
  /** Events read. */
  events: number;
  /** Events whose payload was erased (their hashes still verify). */
  erased: number;
  /** Whether the run is sealed (and the seal verified, when ok). */
  sealed: boolean;
  /** Key id of the seal, when sealed. */
  keyId?: string;
  /** Status in the runs row. */
  status?: string;
  /** The first break, when not ok. */
  problem?: VerificationProblem;
  /** Things to know that are not breaks (e.g. a run ended but was not sealed). */
  warnings: string[];
  /** Whether a seal of a recorder holding a trusted key shows the run was started (or ended) there; false for a run nothing vouches for. */
  attested?: boolean;
  /** The newest event a seal covers (its end, or its last start/checkpoint seal); later events of an open run are not yet covered. */
  coveredSeq?: number;
  /** Unattested but recorded before this store's recorders sealed run starts (or before it had any): vouched for by nothing, and not failed for it. */
  legacy?: boolean;
}

/** Which seal keys are trusted: public keys (SPKI base64) or key ids. Absent: any key that verifies, reported as unpinned. */
export type TrustedKeys = readonly string[] | undefined;

function isTrusted(trusted: TrustedKeys, keyId: string, publicKey: string): boolean {
  if (!trusted) return true;
  return trusted.some((entry) => entry === keyId || entry === publicKey);
}

/** What run.started says about the run, compared with its runs row. */
interface StartedFacts {
  agent?: unknown;
  principal?: unknown;
  team?: unknown;
  input?: unknown;
  metadata?: unknown;
  replay_of?: unknown;
  parent_run_id?: unknown;
}

/** An ISO 8601 UTC time with its fraction at microseconds, for comparing times of any precision. */
export function microsecondTime(value: string | Date): string | undefined {
  const text = typeof value === 'string' ? value : Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  const match = text === undefined ? null : /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:Z|\+00(?::?00)?)$/.exec(text);
  return match ? `${match[1]}.${(match[2] ?? '').padEnd(6, '0')}Z` : undefined;
}

/** Options of RunChainVerifier. */
export interface RunChainOptions {
  /** The run's newest start or checkpoint seal, known before its events are read: its head is compared as the events go by. */
  checkpoint?: StoredSeal | undefined;
  /** When the store's first start seal was made (microsecond ISO): a run started since then without any seal is failed as unattested, not warned about. */
  attestedSince?: string | undefined;
}

/** Checks one run's events, fed in seq order, then its runs row and seal. */
export class RunChainVerifier {
  readonly runId: string;
  #expectedSeq = 1;
  #prevHash = genesisHash;
  #events = 0;
  #erased = 0;
  #problem: VerificationProblem | undefined;
  #started: StartedFacts | undefined;
  #startedTs: string | undefined;
  #lastType: string | undefined;
  #checkpoint: StoredSeal | undefined;
  #checkpointSeen = false;
  readonly #attestedSince: string | undefined;

  constructor(runId: string, options: RunChainOptions = {}) {
    this.runId = runId;
    this.#checkpoint = options.checkpoint;
    this.#attestedSince = options.attestedSince;
  }

  /** Sets the run's newest start or checkpoint seal before its events are fed (an export lists seals first). */
  expectCheckpoint(seal: StoredSeal): void {
    if (this.#events === 0) this.#checkpoint = seal;
  }

  /** Whether a break was already found (later events are then only counted). */
  get broken(): boolean {
    return this.#problem !== undefined;
  }

  /** Checks the next event of the run. */
  add(event: ChainEvent): void {
    this.#events += 1;
    if (this.#problem) return;
    const at = { runId: this.runId, seq: event.seq };
    if (event.seq !== this.#expectedSeq) {
      this.#problem =
        event.seq > this.#expectedSeq
          ? {
              ...at,
              kind: 'seq_gap',
              message: `Events are missing: expected seq ${this.#expectedSeq}, found seq ${event.seq}.`,
              expected: String(this.#expectedSeq),
              actual: String(event.seq),
            }
          : {
              ...at,
              kind: 'seq_gap',
              message: `Seq ${event.seq} appears out of order or twice (expected ${this.#expectedSeq}).`,
              expected: String(this.#expectedSeq),
              actual: String(event.seq),
            };
      return;
    }
    if (event.prevHash !== this.#prevHash) {
      this.#problem = {
        ...at,
        kind: 'prev_hash_mismatch',
        message: `prev_hash does not link to the previous event (an event before it was removed, inserted, reordered or changed).`,
        expected: this.#prevHash,
        actual: event.prevHash,
      };
      return;
    }
    if (event.erasedAt) {
      if (event.payloadText !== null || event.payloadSalt !== null) {
        this.#problem = { ...at, kind: 'erasure_inconsistent', message: 'The event is marked erased but still holds a payload or salt.' };
        return;
      }
      this.#erased += 1;
    } else if (event.payloadText === null || event.payloadSalt === null) {
      this.#problem = {
        ...at,
        kind: 'erasure_inconsistent',
        message: 'The payload is missing but the event carries no erasure tombstone (erased_at).',
      };
      return;
    } else {
      const computed = payloadHash(event.payloadSalt, event.payloadText);
      if (computed !== event.payloadHash) {
        this.#problem = {
          ...at,
          kind: 'payload_mismatch',
          message: `The payload of ${event.type} differs from what was recorded (its salted hash does not match).`,
          expected: event.payloadHash,
          actual: computed,
        };
        return;
      }
    }
    // A ts no Date can hold (edited far out of range) is a changed field like any other, not a crash.
    const ts = typeof event.ts === 'string' ? event.ts : Number.isNaN(event.ts.getTime()) ? undefined : event.ts.toISOString();
    if (ts === undefined) {
      this.#problem = {
        ...at,
        kind: 'hash_mismatch',
        message: `The event's ts cannot be read as a point in time (it was changed): its hash cannot match.`,
        actual: String(event.ts),
      };
      return;
    }
    const computed = eventHash(event.prevHash, {
      runId: event.runId,
      seq: event.seq,
      ts,
      type: event.type,
      actor: event.actor,
      payloadHash: event.payloadHash,
      schemaVersion: event.schemaVersion,
      redactions: event.redactions,
    });
    if (computed !== event.hash) {
      this.#problem = {
        ...at,
        kind: 'hash_mismatch',
        message: `The event's recorded fields (ts, type, actor, payload hash, run or seq) were changed: its hash does not match.`,
        expected: computed,
        actual: event.hash,
      };
      return;
    }
    if (event.seq === 1 && event.type === 'run.started') {
      this.#startedTs = ts;
      if (event.payloadText !== null) {
        try {
          this.#started = JSON.parse(event.payloadText) as StartedFacts;
        } catch {
          this.#started = undefined;
        }
      }
    }
    if (this.#checkpoint && event.seq === this.#checkpoint.headSeq) {
      this.#checkpointSeen = true;
      if (event.hash !== this.#checkpoint.headHash) {
        this.#problem = {
          ...at,
          kind: 'checkpoint_mismatch',
          message: `The run was rewritten after its ${this.#checkpoint.kind ?? 'checkpoint'} seal (seal ${this.#checkpoint.seq}): event ${event.seq} is not the one that seal signed.`,
          expected: this.#checkpoint.headHash,
          actual: event.hash,
        };
        return;
      }
    }
    this.#lastType = event.type;
    this.#prevHash = event.hash;
    this.#expectedSeq += 1;
  }

  /** Finishes the run: compares the runs row and the seals with the chain; returns the report. */
  finish(run: RunRow | undefined, seals: RunSeals | StoredSeal | undefined, trusted: TrustedKeys): VerificationReport {
    const { final: seal, latest } =
      seals === undefined ? {} : 'signature' in seals ? { final: seals as StoredSeal, latest: undefined } : (seals as RunSeals);
    const checkpoint = latest ?? this.#checkpoint;
    const report: VerificationReport = {
      runId: this.runId,
      ok: true,
      events: this.#events,
      erased: this.#erased,
      sealed: seal !== undefined,
      warnings: [],
      attested: seal !== undefined || checkpoint !== undefined,
    };
    if (run) report.status = run.status;
    if (seal) report.keyId = seal.keyId;
    const fail = (problem: VerificationProblem): VerificationReport => ({ ...report, ok: false, problem });
    if (this.#problem) return fail(this.#problem);
    const lastSeq = this.#expectedSeq - 1;
    if (this.#events === 0) {
      return fail({
        runId: this.runId,
        kind: 'events_missing',
        message: run
          ? `Run '${this.runId}' has a runs row but no events (its log was removed).`
          : `Run '${this.runId}' is sealed but has no events.`,
      });
    }
    if (!run)
      return fail({ runId: this.runId, kind: 'run_missing', message: `Run '${this.runId}' has events but its runs row is missing.` });
    const rowProblem = this.#compareRow(run, seal, lastSeq);
    if (rowProblem) return fail(rowProblem);
    if (checkpoint) {
      const checkpointProblem = checkSealSignature(checkpoint, trusted);
      if (checkpointProblem) return fail(checkpointProblem);
      if (checkpoint.runId !== this.runId)
        return fail({
          runId: this.runId,
          seq: checkpoint.seq,
          kind: 'checkpoint_mismatch',
          message: `Seal ${checkpoint.seq} belongs to run '${checkpoint.runId}'.`,
        });
      if (checkpoint.headSeq > lastSeq) {
        return fail({
          runId: this.runId,
          seq: lastSeq,
          kind: 'checkpoint_mismatch',
          message: `Events were removed: the run's ${checkpoint.kind ?? 'checkpoint'} seal (seal ${checkpoint.seq}) covers seq ${checkpoint.headSeq}, but the run ends at seq ${lastSeq}.`,
          expected: String(checkpoint.headSeq),
          actual: String(lastSeq),
        });
      }
      if (!this.#checkpointSeen && this.#checkpoint === undefined) {
        // Seals known only now (an export): the head at the checkpoint was not kept, so compare what is left.
        if (checkpoint.headSeq === lastSeq && checkpoint.headHash !== this.#prevHash) {
          return fail({
            runId: this.runId,
            seq: lastSeq,
            kind: 'checkpoint_mismatch',
            message: `The run's head differs from the one its ${checkpoint.kind ?? 'checkpoint'} seal signed.`,
            expected: checkpoint.headHash,
            actual: this.#prevHash,
          });
        }
      }
      report.coveredSeq = checkpoint.headSeq;
    }
    if (seal) {
      const sealProblem = checkSealSignature(seal, trusted);
      if (sealProblem) return fail(sealProblem);
      if (seal.headSeq !== lastSeq || seal.headHash !== this.#prevHash) {
        const message =
          seal.headSeq > lastSeq
            ? `The log was cut: the seal covers seq ${seal.headSeq} but the run ends at seq ${lastSeq}.`
            : seal.headSeq < lastSeq
              ? `${lastSeq - seal.headSeq} event(s) follow the seal (seq ${seal.headSeq + 1}..${lastSeq}).`
              : `The run's head hash differs from the one its seal signed.`;
        return fail({
          runId: this.runId,
          seq: Math.min(seal.headSeq, lastSeq),
          kind: 'seal_head_mismatch',
          message,
          expected: `${seal.headSeq}:${seal.headHash}`,
          actual: `${lastSeq}:${this.#prevHash}`,
        });
      }
      report.coveredSeq = seal.headSeq;
      return report;
    }
    if (!report.attested) {
      const message = `Run '${this.runId}' carries no seal at all: no recorded process started it (a run recorded before start seals existed, or one written into the database directly). Nothing vouches for it; do not seal it.`;
      const startedAt = this.#startedTs === undefined ? undefined : microsecondTime(this.#startedTs);
      if (this.#attestedSince !== undefined && (startedAt === undefined || startedAt >= this.#attestedSince)) {
        return fail({
          runId: this.runId,
          seq: 1,
          kind: 'run_unattested',
          message: `Run '${this.runId}' carries no seal at all, though it started after this store's recorders began sealing every run's start: no recorded process started it (it was written into the database directly). Nothing vouches for it; do not seal it.`,
        });
      }
      report.warnings.push(message);
      report.legacy = true;
      return report;
    }
    const ended = this.#lastType === 'run.completed' || this.#lastType === 'run.failed';
    if (ended) {
      report.warnings.push(
        `Run '${this.runId}' ended but is not sealed (the process stopped before sealing); its chain verifies, so 'factory runs seal ${this.runId}' can seal it.`,
      );
    } else if ((report.coveredSeq ?? 0) < lastSeq) {
      report.warnings.push(
        `Run '${this.runId}' is open: events ${(report.coveredSeq ?? 0) + 1}..${lastSeq} are not covered by a seal yet (they are checkpoint-sealed when the run is held, every N events or T seconds, and at its end).`,
      );
    }
    return report;
  }

  /** The runs row against the chain: every field an auditor reads is recorded in run.started, its end event or its seal. */
  #compareRow(run: RunRow, seal: StoredSeal | undefined, lastSeq: number): VerificationProblem | undefined {
    const mismatch = (field: string, expected: unknown, actual: unknown, seq = 1): VerificationProblem => ({
      runId: this.runId,
      seq,
      kind: 'run_row_mismatch',
      message: `The runs row's ${field} differs from ${seq === 1 ? 'the run.started event' : "the run's recorded end"}.`,
      expected: typeof expected === 'string' ? expected : JSON.stringify(expected ?? null),
      actual: typeof actual === 'string' ? actual : JSON.stringify(actual ?? null),
    });
    if (this.#started) {
      for (const field of ['agent', 'principal', 'team'] as const) {
        const recorded = (this.#started[field] ?? null) as unknown;
        const stored = run[field] ?? null;
        if (recorded !== stored) return mismatch(field, String(recorded), String(stored));
      }
      if (run.input !== undefined && canonicalOrNull(run.input) !== canonicalOrNull(this.#started.input))
        return mismatch('input', this.#started.input ?? null, run.input);
      if (run.metadata !== undefined && canonicalOrNull(run.metadata) !== canonicalOrNull(this.#started.metadata ?? {}))
        return mismatch('metadata', this.#started.metadata ?? {}, run.metadata);
      if (run.replayOf !== undefined && (run.replayOf ?? null) !== (this.#started.replay_of ?? null))
        return mismatch('replay_of', this.#started.replay_of ?? null, run.replayOf);
      if (run.parentRunId !== undefined && (run.parentRunId ?? null) !== (this.#started.parent_run_id ?? null))
        return mismatch('parent_run_id', this.#started.parent_run_id ?? null, run.parentRunId);
    }
    if (
      run.startedAt !== undefined &&
      this.#startedTs !== undefined &&
      microsecondTime(run.startedAt) !== microsecondTime(this.#startedTs)
    ) {
      return mismatch('started_at', this.#startedTs, run.startedAt);
    }
    const ended = this.#lastType === 'run.completed' ? 'completed' : this.#lastType === 'run.failed' ? 'failed' : undefined;
    if (seal) {
      if (run.status !== ended) return mismatch('status', ended ?? 'an ended status', run.status, lastSeq);
      if (run.endedAt !== undefined && microsecondTime(run.endedAt ?? '') !== microsecondTime(seal.ts))
        return mismatch('ended_at', seal.ts.toISOString(), run.endedAt ?? null, lastSeq);
    } else {
      // Unsealed: running or held (a run whose process died before its seal may have recorded its end).
      if (run.status !== 'running' && run.status !== 'held')
        return mismatch('status', ended ? `running (ended, not sealed)` : 'running or held', run.status, lastSeq);
      if (run.endedAt !== undefined && run.endedAt !== null)
        return mismatch('ended_at', 'none (the run is not sealed)', run.endedAt, lastSeq);
    }
    return undefined;
  }
}

function canonicalOrNull(value: unknown): string {
  try {
    return canonicalJson(value ?? null);
  } catch {
    return '<unreadable>';
  }
}

/** Checks a seal's own hash, key id, trust and signature; undefined when all hold. */
export function checkSealSignature(seal: StoredSeal, trusted: TrustedKeys): VerificationProblem | undefined {
  const at = { runId: seal.runId, seq: seal.seq };
  if (keyIdOf(seal.publicKey) !== seal.keyId) {
    return {
      ...at,
      kind: 'seal_signature_invalid',
      message: `Seal ${seal.seq} names key ${seal.keyId} but carries a different public key.`,
      expected: keyIdOf(seal.publicKey),
      actual: seal.keyId,
    };
  }
  if (!isTrusted(trusted, seal.keyId, seal.publicKey)) {
    return {
      ...at,
      kind: 'seal_key_untrusted',
      message: `Seal ${seal.seq} is signed by key ${seal.keyId}, which is not a trusted key.`,
      actual: seal.keyId,
    };
  }
  if ((seal.storeId === null || seal.storeId === undefined) && (seal.kind ?? 'final') !== 'final') {
    // Seals of format v1 (before store identities) are all final; a kind without a store id was set afterwards.
    return {
      ...at,
      kind: 'seal_signature_invalid',
      message: `Seal ${seal.seq} is marked ${seal.kind} but signs no store identity (only final seals were written without one): it was changed.`,
    };
  }
  const message = sealMessage({
    kind: (seal.kind ?? 'final') as SealKind,
    storeId: seal.storeId ?? null,
    seq: seal.seq,
    runId: seal.runId,
    headSeq: seal.headSeq,
    headHash: seal.headHash,
    prevSealHash: seal.prevSealHash,
    keyId: seal.keyId,
    ts: seal.ts.toISOString(),
  });
  if (!verifySealSignature(seal.publicKey, message, seal.signature)) {
    return {
      ...at,
      kind: 'seal_signature_invalid',
      message: `Seal ${seal.seq} of run '${seal.runId}' has an invalid signature (the seal's fields were changed).`,
    };
  }
  const computed = sealHash(message, seal.signature);
  if (computed !== seal.sealHash) {
    return {
      ...at,
      kind: 'seal_chain_broken',
      message: `Seal ${seal.seq}'s seal_hash does not match its fields.`,
      expected: computed,
      actual: seal.sealHash,
    };
  }
  return undefined;
}

/** The verdict on the seal chain. */
export interface SealChainReport {
  ok: boolean;
  /** Seals read. */
  seals: number;
  /** Key ids that signed seals. */
  keyIds: string[];
  /** The newest seal's place and hash (the chain's head), when there are seals. */
  head?: { seq: number; sealHash: string };
  problem?: VerificationProblem;
}

/** A place the seal chain must still reach with this hash: a signer's anchor or a witnessed checkpoint. */
export interface ChainAnchor extends SealAnchor {
  /** Where it is kept: `anchor` (beside the key) or `witness`. */
  source?: 'anchor' | 'witness';
}

/** Options of SealChainVerifier. */
export interface SealChainOptions {
  trusted?: TrustedKeys;
  /** The seals are a selection (an export of some runs), so gaps between them are expected. */
  partial?: boolean;
  anchors?: readonly ChainAnchor[];
  /** The store identity every seal that signs one must sign. */
  storeId?: string | null | undefined;
  /** false: check links and hashes only (the anchors pin the chain); signatures are checked elsewhere. */
  signatures?: boolean;
  /** The first seal fed is this one, not seal 1 (a walk from a run's seal to the head). */
  from?: { seq: number; prevSealHash: string };
}

/** Checks seals fed in seq order: contiguous, linked, signed by trusted keys, of this store, reaching every anchor. */
export class SealChainVerifier {
  #expectedSeq: number;
  #prevHash: string;
  #count = 0;
  #problem: VerificationProblem | undefined;
  readonly #keyIds = new Set<string>();
  readonly #trusted: TrustedKeys;
  readonly #partial: boolean;
  readonly #anchors: readonly ChainAnchor[];
  readonly #anchorSeqs: Set<number>;
  readonly #anchorHashes = new Map<number, string>();
  readonly #storeId: string | null | undefined;
  readonly #signatures: boolean;
  #head: { seq: number; sealHash: string } | undefined;

  constructor(options: SealChainOptions = {}) {
    this.#trusted = options.trusted;
    this.#partial = options.partial ?? false;
    this.#anchors = options.anchors ?? [];
    this.#anchorSeqs = new Set(this.#anchors.map((anchor) => anchor.seq));
    this.#storeId = options.storeId;
    this.#signatures = options.signatures ?? true;
    this.#expectedSeq = options.from?.seq ?? 1;
    this.#prevHash = options.from?.prevSealHash ?? genesisSealHash;
  }

  /** Checks the next seal. */
  add(seal: StoredSeal): void {
    this.#count += 1;
    this.#keyIds.add(seal.keyId);
    if (this.#problem) return;
    const at = { runId: seal.runId, seq: seal.seq };
    const contiguous = seal.seq === this.#expectedSeq;
    if (!contiguous && !(this.#partial && seal.seq > this.#expectedSeq)) {
      this.#problem = {
        ...at,
        kind: 'seal_chain_broken',
        message:
          seal.seq > this.#expectedSeq
            ? `Seals ${this.#expectedSeq}..${seal.seq - 1} are missing (runs were removed).`
            : `Seal ${seal.seq} appears out of order or twice.`,
        expected: String(this.#expectedSeq),
        actual: String(seal.seq),
      };
      return;
    }
    if (contiguous && seal.prevSealHash !== this.#prevHash) {
      this.#problem = {
        ...at,
        kind: 'seal_chain_broken',
        message: `Seal ${seal.seq} does not link to seal ${seal.seq - 1} (a seal was replaced, or runs were reordered).`,
        expected: this.#prevHash,
        actual: seal.prevSealHash,
      };
      return;
    }
    if (seal.storeId !== null && seal.storeId !== undefined && this.#storeId !== undefined && seal.storeId !== this.#storeId) {
      this.#problem = {
        ...at,
        kind: 'store_identity_mismatch',
        message: `Seal ${seal.seq} was made for store ${seal.storeId}, but this store's identity is ${this.#storeId ?? 'missing'} (the identity was replaced, or seals were copied from another store).`,
        expected: this.#storeId ?? 'a store identity',
        actual: seal.storeId,
      };
      return;
    }
    if (this.#signatures) {
      const signatureProblem = checkSealSignature(seal, this.#trusted);
      if (signatureProblem) {
        this.#problem = signatureProblem;
        return;
      }
    } else {
      const computed = sealHash(sealMessageOf(seal), seal.signature);
      if (computed !== seal.sealHash) {
        this.#problem = {
          ...at,
          kind: 'seal_chain_broken',
          message: `Seal ${seal.seq}'s seal_hash does not match its fields.`,
          expected: computed,
          actual: seal.sealHash,
        };
        return;
      }
    }
    if (this.#anchorSeqs.has(seal.seq)) this.#anchorHashes.set(seal.seq, seal.sealHash);
    this.#prevHash = seal.sealHash;
    this.#expectedSeq = seal.seq + 1;
    this.#head = { seq: seal.seq, sealHash: seal.sealHash };
  }

  /** The verdict, anchors included. */
  finish(): SealChainReport {
    const report: SealChainReport = {
      ok: true,
      seals: this.#count,
      keyIds: [...this.#keyIds].sort(),
      ...(this.#head ? { head: this.#head } : {}),
    };
    if (this.#problem) return { ...report, ok: false, problem: this.#problem };
    for (const anchor of this.#anchors) {
      const found = this.#anchorHashes.get(anchor.seq);
      const witnessed = anchor.source === 'witness';
      if (found === undefined) {
        return {
          ...report,
          ok: false,
          problem: {
            seq: anchor.seq,
            kind: witnessed ? 'witness_mismatch' : 'seal_chain_cut',
            message: witnessed
              ? `The seal chain ends at seal ${this.#expectedSeq - 1}, but the witness holds a checkpoint of seal ${anchor.seq}: the newest seals (runs, holds or checkpoints) were removed.`
              : `The seal chain ends at seal ${this.#expectedSeq - 1}, but this key sealed seal ${anchor.seq}: the newest sealed runs were removed (if this store was reset on purpose, delete its entry from the seal key's .anchors.json).`,
            expected: String(anchor.seq),
            actual: String(this.#expectedSeq - 1),
          },
        };
      }
      if (found !== anchor.sealHash) {
        return {
          ...report,
          ok: false,
          problem: {
            seq: anchor.seq,
            kind: witnessed ? 'witness_mismatch' : 'seal_chain_broken',
            message: witnessed
              ? `Seal ${anchor.seq} is not the seal the witness holds a checkpoint of: the seal chain was rewritten from there on (re-signed with the key).`
              : `Seal ${anchor.seq} is not the seal this key made at that place (the chain was rewritten).`,
            expected: anchor.sealHash,
            actual: found,
          },
        };
      }
    }
    return report;
  }
}

/** The message a stored seal's signature covers (v1 or v2, by whether it signs a store id). */
export function sealMessageOf(seal: StoredSeal): string {
  return sealMessage({
    kind: (seal.kind ?? 'final') as SealKind,
    storeId: seal.storeId ?? null,
    seq: seal.seq,
    runId: seal.runId,
    headSeq: seal.headSeq,
    headHash: seal.headHash,
    prevSealHash: seal.prevSealHash,
    keyId: seal.keyId,
    ts: seal.ts.toISOString(),
  });
}
