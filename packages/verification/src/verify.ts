// Verification against the store: streams events in key order (keyset pages, the next page
// fetched while the current one is checked), so memory stays flat however long the log is.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import {
  RunChainVerifier,
  SealChainVerifier,
  checkSealSignature,
  type RunRow,
  type SealChainReport,
  type StoredEvent,
  type StoredSeal,
  type TrustedKeys,
  type VerificationProblem,
  type VerificationReport,
} from './chain-verifier.ts';
import type { RedactionNote } from './hash-chain.ts';
import type { SealAnchor, SealSigner } from './seal-signer.ts';
import { queryArrays, queryRows, storeKey, toDate } from './store-access.ts';

/** Options of verifyRun and verifyAll. */
export interface VerifyOptions {
  /** Trusted seal keys (public keys or key ids). Absent: any key that verifies is accepted and the result says keys were not pinned. */
  trustedKeys?: readonly string[];
  /** Signers whose anchors (the last seal each made in this store) the seal chain must still reach; their keys are trusted too. */
  signers?: readonly SealSigner[];
  /** Events per page read from the store (default 5000). */
  pageSize?: number;
}

/** The verdict on a whole store. */
export interface VerificationSummary {
  /** True when every run and the seal chain verify. */
  ok: boolean;
  /** Runs checked. */
  runs: number;
  /** Events checked. */
  events: number;
  /** Erased payloads found (intact: their hashes verify). */
  erased: number;
  /** Sealed runs. */
  sealed: number;
  /** Runs that failed. */
  failed: number;
  /** The failing runs' reports (at most 100). */
  failures: VerificationReport[];
  /** Warnings (at most 100), e.g. ended runs that were not sealed. */
  warnings: string[];
  /** The seal chain's verdict. */
  sealChain: SealChainReport;
  /** The first break anywhere, when not ok. */
  problem?: VerificationProblem;
  /** Whether seal keys were pinned (trusted keys given); unpinned results only prove self-consistency. */
  pinned: boolean;
}

const eventColumns = 'run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, redactions, erased_at, prev_hash, hash';
const sealColumns = 'seq, run_id, head_seq, head_hash, key_id, public_key, prev_seal_hash, seal_hash, signature, ts';
const defaultPageSize = 5000;
const maxListed = 100;

function toEvent(row: unknown[]): StoredEvent {
  return fillEvent({} as StoredEvent, row);
}

/** Copies a row into an event object (reused by the verification scan, which keeps nothing of it). */
function fillEvent(event: StoredEvent, row: unknown[]): StoredEvent {
  event.runId = row[0] as string;
  event.seq = Number(row[1]);
  event.ts = toDate(row[2]);
  event.type = row[3] as string;
  event.actor = row[4] as string;
  event.payloadText = (row[5] as string | null) ?? null;
  event.payloadSalt = (row[6] as string | null) ?? null;
  event.payloadHash = row[7] as string;
  event.schemaVersion = Number(row[8]);
  event.redactions = (row[9] as RedactionNote[] | null) ?? null;
  event.erasedAt = row[10] === null || row[10] === undefined ? null : toDate(row[10]);
  event.prevHash = row[11] as string;
  event.hash = row[12] as string;
  return event;
}

function toSeal(row: Record<string, unknown>): StoredSeal {
  return {
    seq: Number(row.seq),
    runId: row.run_id as string,
    headSeq: Number(row.head_seq),
    headHash: row.head_hash as string,
    keyId: row.key_id as string,
    publicKey: row.public_key as string,
    prevSealHash: row.prev_seal_hash as string,
    sealHash: row.seal_hash as string,
    signature: row.signature as string,
    ts: toDate(row.ts),
  };
}

function toRunRow(row: Record<string, unknown>): RunRow {
  return { id: row.id as string, agent: row.agent as string, team: (row.team as string | null) ?? null, principal: row.principal as string, status: row.status as string };
}

/** Which events a scan reads: one run's, or every run's whose id lies in [fromRun, beforeRun). */
export interface EventScan {
  runId?: string;
  /** First run id of the range (inclusive); default the start. */
  fromRun?: string;
  /** Run id the range stops before; default the end. */
  beforeRun?: string;
  pageSize?: number;
}

/** Pages of events in key order; the next page is requested before the current one is handed out. */
export async function* eventPages(store: Store, options: EventScan = {}): AsyncGenerator<StoredEvent[]> {
  for await (const rows of rowPages(store, options)) yield rows.map(toEvent);
}

/** The same pages as raw column arrays (the verification scan reads them without building objects). */
async function* rowPages(store: Store, options: EventScan): AsyncGenerator<unknown[][]> {
  const size = options.pageSize ?? defaultPageSize;
  const upper = options.beforeRun !== undefined ? ' AND run_id < $4' : '';
  const fetchPage = (afterRun: string, afterSeq: number) =>
    options.runId !== undefined
      ? queryArrays(store, `SELECT ${eventColumns} FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [options.runId, afterSeq, size])
      : queryArrays(store, `SELECT ${eventColumns} FROM events WHERE (run_id, seq) > ($1, $2)${upper} ORDER BY run_id, seq LIMIT $3`, [
          afterRun,
          afterSeq,
          size,
          ...(options.beforeRun !== undefined ? [options.beforeRun] : []),
        ]);
  let pending: Promise<unknown[][]> | undefined = fetchPage(options.fromRun ?? '', 0);
  while (pending) {
    const rows = await pending;
    pending = undefined;
    if (rows.length === size) {
      const last = rows[rows.length - 1]!;
      pending = fetchPage(last[0] as string, Number(last[1]));
    }
    if (rows.length > 0) yield rows;
  }
}

/** Streams one run's events in seq order (flat memory). */
export async function* readRunEvents(store: Store, runId: string): AsyncGenerator<StoredEvent> {
  for await (const page of eventPages(store, { runId })) yield* page;
}

async function trustAndAnchors(store: Store, options: VerifyOptions): Promise<{ trusted: TrustedKeys; anchors: SealAnchor[] }> {
  const signers = options.signers ?? [];
  const trusted = options.trustedKeys || signers.length > 0 ? [...(options.trustedKeys ?? []), ...signers.map((signer) => signer.publicKey)] : undefined;
  const anchors: SealAnchor[] = [];
  for (const signer of signers) {
    const anchor = await signer.readAnchor(storeKey(store));
    if (anchor) anchors.push(anchor);
  }
  return { trusted, anchors };
}

/** Verifies one run: its chain, runs row, seal signature and the seal's links to its neighbours. */
export async function verifyRun(store: Store, runId: string, options: VerifyOptions = {}): Promise<VerificationReport> {
  const { trusted } = await trustAndAnchors(store, options);
  const [runRow] = await queryRows(store, 'SELECT id, agent, team, principal, status FROM runs WHERE id = $1', [runId]);
  const [sealRow] = await queryRows(store, `SELECT ${sealColumns} FROM seals WHERE run_id = $1`, [runId]);
  const verifier = new RunChainVerifier(runId);
  for await (const page of eventPages(store, { runId, ...(options.pageSize ? { pageSize: options.pageSize } : {}) })) {
    for (const event of page) verifier.add(event);
  }
  if (!runRow && !sealRow && verifier.broken === false) {
    const count = await queryRows<{ count: number }>(store, 'SELECT count(*)::int AS count FROM events WHERE run_id = $1', [runId]);
    if ((count[0]?.count ?? 0) === 0) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist in ${store.location}.`);
  }
  const seal = sealRow ? toSeal(sealRow) : undefined;
  const report = verifier.finish(runRow ? toRunRow(runRow) : undefined, seal, trusted);
  if (!report.ok || !seal) return report;
  // The seal's place in the chain: the seal before must be the one it links to, the one after must link to it.
  const neighbours = (await queryRows(store, `SELECT ${sealColumns} FROM seals WHERE seq IN ($1, $2)`, [seal.seq - 1, seal.seq + 1])).map(toSeal);
  const before = neighbours.find((candidate) => candidate.seq === seal.seq - 1);
  const after = neighbours.find((candidate) => candidate.seq === seal.seq + 1);
  const expectedPrev = before?.sealHash ?? (seal.seq === 1 ? '0'.repeat(64) : undefined);
  if (expectedPrev === undefined || seal.prevSealHash !== expectedPrev) {
    return { ...report, ok: false, problem: { runId, seq: seal.seq, kind: 'seal_chain_broken', message: `The seal before this run's seal (seal ${seal.seq - 1}) is missing or was changed.`, ...(expectedPrev ? { expected: expectedPrev } : {}), actual: seal.prevSealHash } };
  }
  if (after && after.prevSealHash !== seal.sealHash) {
    return { ...report, ok: false, problem: { runId, seq: seal.seq, kind: 'seal_chain_broken', message: `Seal ${after.seq} does not link to this run's seal.`, expected: seal.sealHash, actual: after.prevSealHash } };
  }
  const signatureProblem = before ? checkSealSignature(before, trusted) : undefined;
  if (signatureProblem) return { ...report, ok: false, problem: signatureProblem };
  return report;
}

/** Checks every run with events in a range of run ids, handing each run's report to take(). */
export async function verifyEventRange(store: Store, range: { fromRun?: string; beforeRun?: string }, trusted: TrustedKeys, pageSize: number, take: (report: VerificationReport) => void): Promise<void> {
  let current: { verifier: RunChainVerifier; run: RunRow | undefined; seal: StoredSeal | undefined } | undefined;
  const scratch = {} as StoredEvent;
  for await (const page of rowPages(store, { ...range, pageSize })) {
    const ids = [...new Set(page.map((row) => row[0] as string))];
    const idsJson = JSON.stringify(ids);
    const [runRows, sealRows] = await Promise.all([
      queryRows(store, 'SELECT id, agent, team, principal, status FROM runs WHERE id IN (SELECT json_array_elements_text($1::json))', [idsJson]),
      queryRows(store, `SELECT ${sealColumns} FROM seals WHERE run_id IN (SELECT json_array_elements_text($1::json))`, [idsJson]),
    ]);
    const runsById = new Map(runRows.map((row) => [row.id as string, toRunRow(row)]));
    const sealsByRun = new Map(sealRows.map((row) => [row.run_id as string, toSeal(row)]));
    for (const row of page) {
      const event = fillEvent(scratch, row);
      if (!current || current.verifier.runId !== event.runId) {
        if (current) take(current.verifier.finish(current.run, current.seal, trusted));
        current = { verifier: new RunChainVerifier(event.runId), run: runsById.get(event.runId), seal: sealsByRun.get(event.runId) };
      }
      current.verifier.add(event);
    }
  }
  if (current) take(current.verifier.finish(current.run, current.seal, trusted));
}

/** Verifies the whole store: the seal chain, every run's chain, and rows without a counterpart. */
export async function verifyAll(store: Store, options: VerifyOptions & { onReport?: (report: VerificationReport) => void } = {}): Promise<VerificationSummary> {
  const { trusted, anchors } = await trustAndAnchors(store, options);
  const pageSize = options.pageSize ?? defaultPageSize;
  const summary: VerificationSummary = {
    ok: true,
    runs: 0,
    events: 0,
    erased: 0,
    sealed: 0,
    failed: 0,
    failures: [],
    warnings: [],
    sealChain: { ok: true, seals: 0, keyIds: [] },
    pinned: trusted !== undefined,
  };
  const take = (report: VerificationReport) => {
    summary.runs += 1;
    summary.events += report.events;
    summary.erased += report.erased;
    if (report.sealed) summary.sealed += 1;
    for (const warning of report.warnings) if (summary.warnings.length < maxListed) summary.warnings.push(warning);
    if (!report.ok) {
      summary.failed += 1;
      if (summary.failures.length < maxListed) summary.failures.push(report);
    }
    options.onReport?.(report);
  };

  // 1. The seal chain, in seq order.
  const chain = new SealChainVerifier({ trusted, anchors });
  for (let after = 0; ; ) {
    const rows = await queryRows(store, `SELECT ${sealColumns} FROM seals WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, pageSize]);
    for (const row of rows) chain.add(toSeal(row));
    if (rows.length < pageSize) break;
    after = Number(rows[rows.length - 1]!.seq);
  }
  summary.sealChain = chain.finish();

  // 2. Every run that has events, in key order.
  await verifyEventRange(store, {}, trusted, pageSize, take);

  // 3. Runs rows and seals whose events are gone entirely.
  const orphanRuns = await queryRows(store, 'SELECT id, agent, team, principal, status FROM runs r WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = r.id) ORDER BY id');
  const orphanSeals = (await queryRows(store, `SELECT ${sealColumns} FROM seals s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = s.run_id) ORDER BY seq`)).map(toSeal);
  const orphanSealByRun = new Map(orphanSeals.map((seal) => [seal.runId, seal]));
  for (const row of orphanRuns) {
    const run = toRunRow(row);
    take(new RunChainVerifier(run.id).finish(run, orphanSealByRun.get(run.id), trusted));
    orphanSealByRun.delete(run.id);
  }
  for (const seal of orphanSealByRun.values()) {
    const report = new RunChainVerifier(seal.runId).finish(undefined, seal, trusted);
    take({ ...report, problem: { runId: seal.runId, seq: seal.seq, kind: 'seal_run_missing', message: `Seal ${seal.seq} seals run '${seal.runId}', whose events and runs row are gone.` } });
  }

  summary.ok = summary.failed === 0 && summary.sealChain.ok;
  summary.problem = summary.failures[0]?.problem ?? summary.sealChain.problem;
  return summary;
}
