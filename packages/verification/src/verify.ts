// Verification against the store: streams events in key order (keyset pages, the next page
// fetched while the current one is checked), so memory stays flat however long the log is.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import {
  RunChainVerifier,
  SealChainVerifier,
  checkSealSignature,
  type ChainEvent,
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
import { forEachArray, queryArrays, queryRows, storeKey, toDate } from './store-access.ts';

/** Options of verifyRun and verifyAll. */
export interface VerifyOptions {
  /** Trusted seal keys (public keys or key ids). Absent: any key that verifies is accepted and the result says keys were not pinned. */
  trustedKeys?: readonly string[];
  /** Signers whose anchors (the last seal each made in this store) the seal chain must still reach; their keys are trusted too. */
  signers?: readonly SealSigner[];
  /** Events (and seals) per page read from the store (default 5000; verifyAll's event scan, which holds no page, 20000). */
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

// Every read of events takes ts as the ISO text its hash covers, written by Postgres (to_char in
// UTC), for whole-millisecond times in years 1..9999, where it is exactly what the recorder's
// Date#toISOString wrote. The drivers' own timestamptz parsing reads years 1..99 as 19xx/20xx (or
// not at all), so a ts moved back 2000 years would read as unchanged; and in the verification
// scan, parsing a Date per event only to format it again was a tenth of the time. Other times
// (sub-millisecond, which the recorder never writes; years past 9999) come as a timestamptz and
// take the driver's Date. A test holds both paths to what the recorder hashed, on both engines.
const isoWritable = `ts >= '0001-01-01T00:00:00Z' AND ts < '10000-01-01T00:00:00Z' AND date_trunc('milliseconds', ts) = ts`;
const eventColumns =
  `run_id, seq, CASE WHEN ${isoWritable} THEN to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END AS ts_text, ` +
  `CASE WHEN ${isoWritable} THEN NULL ELSE ts END AS ts, type, actor, payload, payload_salt, payload_hash, schema_version, redactions, erased_at, prev_hash, hash`;
const sealColumns = 'seq, run_id, head_seq, head_hash, key_id, public_key, prev_seal_hash, seal_hash, signature, ts';
const defaultPageSize = 5000;
// The verification scan checks rows as they arrive and keeps none, so its pages can be larger:
// fewer pauses between pages, in which Node waits for the first rows of the next.
const defaultScanPageSize = 20_000;
const maxListed = 100;

/** A row of eventColumns as a stored event, ts as a Date (one object per row: callers keep them). */
function toEvent(row: unknown[]): StoredEvent {
  const event = {} as ChainEvent;
  fillScanEvent(event, row);
  // An ISO 8601 date-time string is parsed by the standard, whatever its year.
  if (typeof event.ts === 'string') event.ts = new Date(event.ts);
  return event as StoredEvent;
}

/** Copies a row of eventColumns into the scan's one reusable event (the verifier keeps nothing of it). */
function fillScanEvent(event: ChainEvent, row: unknown[]): void {
  event.runId = row[0] as string;
  event.seq = Number(row[1]);
  event.ts = (row[2] as string | null | undefined) ?? toDate(row[3]);
  event.type = row[4] as string;
  event.actor = row[5] as string;
  event.payloadText = (row[6] as string | null) ?? null;
  event.payloadSalt = (row[7] as string | null) ?? null;
  event.payloadHash = row[8] as string;
  event.schemaVersion = Number(row[9]);
  event.redactions = (row[10] as RedactionNote[] | null) ?? null;
  event.erasedAt = row[11] === null || row[11] === undefined ? null : toDate(row[11]);
  event.prevHash = row[12] as string;
  event.hash = row[13] as string;
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
    if (rows.length > 0) yield rows.map(toEvent);
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

/** The runs rows and seals of the runs that first appear in one page of the scan. */
interface RunLookup {
  ids: string[];
  /** Set once the page is read: the query for those ids. */
  result?: Promise<{ runs: Map<string, RunRow>; seals: Map<string, StoredSeal> }>;
}

/** A run whose events the scan is checking or has checked, and where its runs row and seal come from. */
interface ScannedRun {
  verifier: RunChainVerifier;
  lookup: RunLookup;
}

async function lookUpRuns(store: Store, ids: string[]): Promise<{ runs: Map<string, RunRow>; seals: Map<string, StoredSeal> }> {
  const idsJson = JSON.stringify(ids);
  const [runRows, sealRows] = await Promise.all([
    queryRows(store, 'SELECT id, agent, team, principal, status FROM runs WHERE id IN (SELECT json_array_elements_text($1::json))', [idsJson]),
    queryRows(store, `SELECT ${sealColumns} FROM seals WHERE run_id IN (SELECT json_array_elements_text($1::json))`, [idsJson]),
  ]);
  return { runs: new Map(runRows.map((row) => [row.id as string, toRunRow(row)])), seals: new Map(sealRows.map((row) => [row.run_id as string, toSeal(row)])) };
}

/** Marks a promise as handled now (it is awaited later, and may settle while something else is awaited). */
function awaitedLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * Checks every run with events in a range of run ids, handing each run's report to take(), in key order.
 *
 * Events are checked as their rows arrive (keyset pages; on Postgres each row is checked inside the
 * driver's read loop), so no page is ever held: memory stays flat, and few objects live long
 * enough to cost the garbage collector. Each page is requested as soon as the previous one is
 * read, so Postgres produces it while Node finishes runs. A run's runs row and seal are needed
 * only once all its events are checked, so they are looked up per page after the next page is
 * requested, and ended runs wait for that answer in a queue of at most two pages' runs.
 */
export async function verifyEventRange(store: Store, range: { fromRun?: string; beforeRun?: string }, trusted: TrustedKeys, pageSize: number, take: (report: VerificationReport) => void): Promise<void> {
  const upper = range.beforeRun !== undefined ? ' AND run_id < $4' : '';
  const text = `SELECT ${eventColumns} FROM events WHERE (run_id, seq) > ($1, $2)${upper} ORDER BY run_id, seq LIMIT $3`;
  const event: ChainEvent = { runId: '', seq: 0, ts: '', type: '', actor: '', payloadText: null, payloadSalt: null, payloadHash: '', schemaVersion: 0, redactions: null, erasedAt: null, prevHash: '', hash: '' };
  const ended: ScannedRun[] = [];
  let current: ScannedRun | undefined;
  let lookup: RunLookup = { ids: [] };
  let lastRun = range.fromRun ?? '';
  let lastSeq = 0;
  // The row handler runs inside the driver, which must not see it throw: a failure stops the scan
  // and is rethrown once the page is read. Leaving early sets it too, so rows still in flight are ignored.
  let failure: { error: unknown } | undefined;
  const onRow = (row: unknown[]): void => {
    if (failure) return;
    try {
      fillScanEvent(event, row);
      lastRun = event.runId;
      lastSeq = event.seq;
      if (current === undefined || current.verifier.runId !== event.runId) {
        if (current) ended.push(current);
        current = { verifier: new RunChainVerifier(event.runId), lookup };
        lookup.ids.push(event.runId);
      }
      current.verifier.add(event);
    } catch (error) {
      failure = { error };
    }
  };
  const readPage = () => awaitedLater(forEachArray(store, text, [lastRun, lastSeq, pageSize, ...(range.beforeRun !== undefined ? [range.beforeRun] : [])], onRow));
  const finishEnded = async () => {
    while (ended.length > 0 && ended[0]!.lookup.result) {
      const run = ended.shift()!;
      const { runs, seals } = await run.lookup.result!;
      take(run.verifier.finish(runs.get(run.verifier.runId), seals.get(run.verifier.runId), trusted));
    }
  };

  let page: Promise<number> | undefined = readPage();
  try {
    while (page) {
      const count: number = await page;
      if (failure) throw failure.error;
      // The next page goes out first, so Postgres is producing it while this page's runs are looked
      // up and finished (on a shared connection the lookup then waits behind that page).
      const pageLookup = lookup;
      lookup = { ids: [] };
      page = count === pageSize ? readPage() : undefined;
      if (pageLookup.ids.length > 0) pageLookup.result = awaitedLater(lookUpRuns(store, pageLookup.ids));
      await finishEnded();
    }
  } finally {
    failure ??= { error: undefined };
  }
  if (current) ended.push(current);
  await finishEnded();
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
  await verifyEventRange(store, {}, trusted, options.pageSize ?? defaultScanPageSize, take);

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
