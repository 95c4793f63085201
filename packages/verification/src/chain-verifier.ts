// The checks behind every verification, independent of where events come from (the store or an
// export file): a run's chain event by event, its seal, and the seal chain across runs. Each
// check stops at the first break and says what differs, so an auditor can look at one row.
import { eventHash, genesisHash, payloadHash, type RedactionNote } from './hash-chain.ts';
import { genesisSealHash, keyIdOf, sealHash, sealMessage, verifySealSignature, type SealAnchor } from './seal-signer.ts';

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

/** A runs row, as far as verification compares it with the run's run.started event. */
export interface RunRow {
  id: string;
  agent: string;
  team: string | null;
  principal: string;
  status: string;
}

/** A seal as stored. */
export interface StoredSeal {
  seq: number;
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
  #lastType: string | undefined;

  constructor(runId: string) {
    this.runId = runId;
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
          ? { ...at, kind: 'seq_gap', message: `Events are missing: expected seq ${this.#expectedSeq}, found seq ${event.seq}.`, expected: String(this.#expectedSeq), actual: String(event.seq) }
          : { ...at, kind: 'seq_gap', message: `Seq ${event.seq} appears out of order or twice (expected ${this.#expectedSeq}).`, expected: String(this.#expectedSeq), actual: String(event.seq) };
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
      this.#problem = { ...at, kind: 'erasure_inconsistent', message: 'The payload is missing but the event carries no erasure tombstone (erased_at).' };
      return;
    } else {
      const computed = payloadHash(event.payloadSalt, event.payloadText);
      if (computed !== event.payloadHash) {
        this.#problem = { ...at, kind: 'payload_mismatch', message: `The payload of ${event.type} differs from what was recorded (its salted hash does not match).`, expected: event.payloadHash, actual: computed };
        return;
      }
    }
    // A ts no Date can hold (edited far out of range) is a changed field like any other, not a crash.
    const ts = typeof event.ts === 'string' ? event.ts : Number.isNaN(event.ts.getTime()) ? undefined : event.ts.toISOString();
    if (ts === undefined) {
      this.#problem = { ...at, kind: 'hash_mismatch', message: `The event's ts cannot be read as a point in time (it was changed): its hash cannot match.`, actual: String(event.ts) };
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
    if (event.seq === 1 && event.payloadText !== null && event.type === 'run.started') {
      try {
        this.#started = JSON.parse(event.payloadText) as StartedFacts;
      } catch {
        this.#started = undefined;
      }
    }
    this.#lastType = event.type;
    this.#prevHash = event.hash;
    this.#expectedSeq += 1;
  }

  /** Finishes the run: compares the runs row and the seal with the chain; returns the report. */
  finish(run: RunRow | undefined, seal: StoredSeal | undefined, trusted: TrustedKeys): VerificationReport {
    const report: VerificationReport = { runId: this.runId, ok: true, events: this.#events, erased: this.#erased, sealed: seal !== undefined, warnings: [] };
    if (run) report.status = run.status;
    if (seal) report.keyId = seal.keyId;
    const fail = (problem: VerificationProblem): VerificationReport => ({ ...report, ok: false, problem });
    if (this.#problem) return fail(this.#problem);
    const lastSeq = this.#expectedSeq - 1;
    if (this.#events === 0) {
      return fail({ runId: this.runId, kind: 'events_missing', message: run ? `Run '${this.runId}' has a runs row but no events (its log was removed).` : `Run '${this.runId}' is sealed but has no events.` });
    }
    if (!run) return fail({ runId: this.runId, kind: 'run_missing', message: `Run '${this.runId}' has events but its runs row is missing.` });
    if (this.#started) {
      for (const field of ['agent', 'principal', 'team'] as const) {
        const recorded = (this.#started[field] ?? null) as unknown;
        const stored = run[field] ?? null;
        if (recorded !== stored) {
          return fail({ runId: this.runId, seq: 1, kind: 'run_row_mismatch', message: `The runs row's ${field} differs from the run.started event.`, expected: String(recorded), actual: String(stored) });
        }
      }
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
        return fail({ runId: this.runId, seq: Math.min(seal.headSeq, lastSeq), kind: 'seal_head_mismatch', message, expected: `${seal.headSeq}:${seal.headHash}`, actual: `${lastSeq}:${this.#prevHash}` });
      }
    } else if (this.#lastType === 'run.completed' || this.#lastType === 'run.failed' || run.status === 'completed' || run.status === 'failed') {
      report.warnings.push(`Run '${this.runId}' ended but is not sealed (the process stopped before sealing); seal it with 'factory runs seal ${this.runId}'.`);
    }
    return report;
  }
}

/** Checks a seal's own hash, key id, trust and signature; undefined when all hold. */
export function checkSealSignature(seal: StoredSeal, trusted: TrustedKeys): VerificationProblem | undefined {
  const at = { runId: seal.runId, seq: seal.seq };
  if (keyIdOf(seal.publicKey) !== seal.keyId) {
    return { ...at, kind: 'seal_signature_invalid', message: `Seal ${seal.seq} names key ${seal.keyId} but carries a different public key.`, expected: keyIdOf(seal.publicKey), actual: seal.keyId };
  }
  if (!isTrusted(trusted, seal.keyId, seal.publicKey)) {
    return { ...at, kind: 'seal_key_untrusted', message: `Seal ${seal.seq} is signed by key ${seal.keyId}, which is not a trusted key.`, actual: seal.keyId };
  }
  const message = sealMessage({ seq: seal.seq, runId: seal.runId, headSeq: seal.headSeq, headHash: seal.headHash, prevSealHash: seal.prevSealHash, keyId: seal.keyId, ts: seal.ts.toISOString() });
  if (!verifySealSignature(seal.publicKey, message, seal.signature)) {
    return { ...at, kind: 'seal_signature_invalid', message: `Seal ${seal.seq} of run '${seal.runId}' has an invalid signature (the seal's fields were changed).` };
  }
  const computed = sealHash(message, seal.signature);
  if (computed !== seal.sealHash) {
    return { ...at, kind: 'seal_chain_broken', message: `Seal ${seal.seq}'s seal_hash does not match its fields.`, expected: computed, actual: seal.sealHash };
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
  problem?: VerificationProblem;
}

/** Checks seals fed in seq order: contiguous, linked, signed by trusted keys, reaching every anchor. */
export class SealChainVerifier {
  #expectedSeq = 1;
  #prevHash = genesisSealHash;
  #count = 0;
  #problem: VerificationProblem | undefined;
  readonly #keyIds = new Set<string>();
  readonly #trusted: TrustedKeys;
  readonly #partial: boolean;
  readonly #anchors: SealAnchor[];
  readonly #anchorHashes = new Map<number, string>();

  /** partial: the seals are a selection (an export of some runs), so gaps between them are expected. */
  constructor(options: { trusted?: TrustedKeys; partial?: boolean; anchors?: SealAnchor[] } = {}) {
    this.#trusted = options.trusted;
    this.#partial = options.partial ?? false;
    this.#anchors = options.anchors ?? [];
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
        message: seal.seq > this.#expectedSeq ? `Seals ${this.#expectedSeq}..${seal.seq - 1} are missing (runs were removed).` : `Seal ${seal.seq} appears out of order or twice.`,
        expected: String(this.#expectedSeq),
        actual: String(seal.seq),
      };
      return;
    }
    if (contiguous && seal.prevSealHash !== this.#prevHash) {
      this.#problem = { ...at, kind: 'seal_chain_broken', message: `Seal ${seal.seq} does not link to seal ${seal.seq - 1} (a seal was replaced, or runs were reordered).`, expected: this.#prevHash, actual: seal.prevSealHash };
      return;
    }
    const signatureProblem = checkSealSignature(seal, this.#trusted);
    if (signatureProblem) {
      this.#problem = signatureProblem;
      return;
    }
    if (this.#anchors.some((anchor) => anchor.seq === seal.seq)) this.#anchorHashes.set(seal.seq, seal.sealHash);
    this.#prevHash = seal.sealHash;
    this.#expectedSeq = seal.seq + 1;
  }

  /** The verdict, anchors included. */
  finish(): SealChainReport {
    const report: SealChainReport = { ok: true, seals: this.#count, keyIds: [...this.#keyIds].sort() };
    if (this.#problem) return { ...report, ok: false, problem: this.#problem };
    for (const anchor of this.#anchors) {
      const found = this.#anchorHashes.get(anchor.seq);
      if (found === undefined) {
        return {
          ...report,
          ok: false,
          problem: { seq: anchor.seq, kind: 'seal_chain_cut', message: `The seal chain ends at seal ${this.#expectedSeq - 1}, but this key sealed seal ${anchor.seq}: the newest sealed runs were removed (if this store was reset on purpose, delete its entry from the seal key's .anchors.json).`, expected: String(anchor.seq), actual: String(this.#expectedSeq - 1) },
        };
      }
      if (found !== anchor.sealHash) {
        return { ...report, ok: false, problem: { seq: anchor.seq, kind: 'seal_chain_broken', message: `Seal ${anchor.seq} is not the seal this key made at that place (the chain was rewritten).`, expected: anchor.sealHash, actual: found } };
      }
    }
    return report;
  }
}
