// Verification against the store: streams events in key order (keyset pages, the next page
// fetched while the current one is checked), so memory stays flat however long the log is.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import {
  RunChainVerifier,
  SealChainVerifier,
  checkSealSignature,
  type ChainAnchor,
  type ChainEvent,
  type RunRow,
  type RunSeals,
  type SealChainReport,
  type StoredEvent,
  type StoredSeal,
  type TrustedKeys,
  type VerificationProblem,
  type VerificationReport,
} from './chain-verifier.ts';
import type { RedactionNote } from './hash-chain.ts';
import type { SealSigner } from './seal-signer.ts';
import { anchorKey, forEachArray, queryArrays, queryRows, storeKey, toDate } from './store-access.ts';
import { trustedCheckpoints, type Witness } from './witness.ts';

/** Options of verifyRun and verifyAll. */
export interface VerifyOptions {
  /** Trusted seal keys (public keys or key ids). Absent: any key that verifies is accepted and the result says keys were not pinned. */
  trustedKeys?: readonly string[];
  /** Signers whose anchors (the last seal each made in this store) the seal chain must still reach; their keys are trusted too (unless trustedKeys are given). */
  signers?: readonly SealSigner[];
  /** Signers whose anchors are checked, without trusting their keys (a workspace key beside pinned keys). */
  anchorSigners?: readonly SealSigner[];
  /** A witness holding the store's checkpoints: the seal chain must reach every one of them. */
  witness?: Witness;
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
  /** How the tail of the seal chain (the newest runs) was checked. */
  tail: TailCheck;
}

/** How far the newest seals could be checked: only a copy kept outside the database can show they were removed or rewritten. */
export interface TailCheck {
  /** witness: against checkpoints kept outside the database; anchor: against the seal key's own anchor file; none: not at all. */
  checkedBy: 'witness' | 'anchor' | 'none';
  /** The store identity. */
  storeId: string | null;
  /** The newest seal in the store. */
  headSeq: number;
  /** The newest seal the witness or anchor holds. */
  checkedSeq?: number;
  /** One sentence for the auditor. */
  message: string;
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
const sealColumns = 'seq, run_id, kind, store_id, head_seq, head_hash, key_id, public_key, prev_seal_hash, seal_hash, signature, ts';
// Every field of the runs row an auditor reads; times as microsecond text (the column's precision).
const runColumns =
  `id, agent, team, principal, status, input, metadata, replay_of, parent_run_id, ` +
  `to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS started_at_text, to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ended_at_text`;
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
    kind: (row.kind as string | undefined) ?? 'final',
    storeId: (row.store_id as string | null | undefined) ?? null,
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

function parsedJson(value: unknown): unknown {
  // jsonb arrives parsed from postgres.js and PGlite; a string here is JSON text of a string value or a driver that did not parse.
  return value ?? null;
}

function toRunRow(row: Record<string, unknown>): RunRow {
  return {
    id: row.id as string,
    agent: row.agent as string,
    team: (row.team as string | null) ?? null,
    principal: row.principal as string,
    status: row.status as string,
    input: parsedJson(row.input),
    metadata: parsedJson(row.metadata),
    replayOf: (row.replay_of as string | null) ?? null,
    parentRunId: (row.parent_run_id as string | null) ?? null,
    ...(typeof row.started_at_text === 'string' ? { startedAt: row.started_at_text } : {}),
    endedAt: (row.ended_at_text as string | null) ?? null,
  };
}

/** Splits a run's seals into its final seal and its newest start or checkpoint seal. */
function runSeals(seals: readonly StoredSeal[]): RunSeals {
  const result: RunSeals = {};
  for (const seal of seals) {
    if ((seal.kind ?? 'final') === 'final') result.final = seal;
    else if (
      !result.latest ||
      seal.headSeq > result.latest.headSeq ||
      (seal.headSeq === result.latest.headSeq && seal.seq > result.latest.seq)
    )
      result.latest = seal;
  }
  return result;
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
      ? queryArrays(store, `SELECT ${eventColumns} FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [
          options.runId,
          afterSeq,
          size,
        ])
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

/** What every verification starts from: the store identity, the trusted keys, and the places the chain must reach. */
interface ProofContext {
  storeId: string | null;
  trusted: TrustedKeys;
  anchors: ChainAnchor[];
  /** Problems found before any seal is read (a missing identity, a witness checkpoint that does not verify). */
  problems: VerificationProblem[];
  warnings: string[];
  /** When this store's first start seal was made (microsecond ISO), if any. */
  attestedSince: string | undefined;
  tail: Omit<TailCheck, 'headSeq' | 'message'> & { witness?: string };
}

async function proofContext(store: Store, options: VerifyOptions): Promise<ProofContext> {
  const signers = options.signers ?? [];
  const trusted =
    options.trustedKeys || signers.length > 0
      ? [...(options.trustedKeys ?? []), ...(options.trustedKeys ? [] : signers.map((signer) => signer.publicKey))]
      : undefined;
  // One round trip for what every verification starts from: the identity, and when start seals began.
  const [facts] = await queryRows<{ ids: string[] | null; first_start: string | null }>(
    store,
    `SELECT (SELECT array_agg(id) FROM (SELECT id FROM store_identity LIMIT 2) i) AS ids,
            (SELECT to_char(min(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM seals WHERE kind = 'start') AS first_start`,
  );
  // Two rows would be two identities: none of them is the store's.
  const storeId = facts?.ids?.length === 1 ? facts.ids[0]! : null;
  const problems: VerificationProblem[] = [];
  const warnings: string[] = [];
  if (storeId === null)
    problems.push({
      kind: 'store_identity_mismatch',
      message: `The store at ${store.location} has no identity (its store_identity row was removed or duplicated): seals and checkpoints cannot be tied to it.`,
    });
  const anchors: ChainAnchor[] = [];
  let checkedBy: TailCheck['checkedBy'] = 'none';
  let checkedSeq: number | undefined;
  for (const signer of [...signers, ...(options.anchorSigners ?? [])]) {
    const keys = [...(storeId ? [anchorKey(store, storeId)] : []), storeKey(store)];
    for (const key of keys) {
      const anchor = await signer.readAnchor(key);
      if (!anchor) continue;
      anchors.push({ seq: anchor.seq, sealHash: anchor.sealHash, source: 'anchor' });
      checkedBy = 'anchor';
      checkedSeq = Math.max(checkedSeq ?? 0, anchor.seq);
    }
  }
  let witnessLocation: string | undefined;
  if (options.witness && storeId) {
    witnessLocation = options.witness.location;
    const { checkpoints, skippedWarning } = await trustedCheckpoints(options.witness, storeId, trusted);
    for (const checkpoint of checkpoints) {
      anchors.push({ seq: checkpoint.sealSeq, sealHash: checkpoint.sealHash, source: 'witness' });
      checkedSeq = Math.max(checkedSeq ?? 0, checkpoint.sealSeq);
    }
    if (skippedWarning) warnings.push(skippedWarning);
    checkedBy = anchors.some((anchor) => anchor.source === 'witness') ? 'witness' : checkedBy;
    if (checkedBy !== 'witness')
      warnings.push(`Witness ${options.witness.location} holds no checkpoint of store ${storeId} signed by a trusted key.`);
  }
  return {
    storeId,
    trusted,
    anchors,
    problems,
    warnings,
    attestedSince: facts?.first_start ?? undefined,
    tail: {
      checkedBy,
      storeId,
      ...(checkedSeq !== undefined ? { checkedSeq } : {}),
      ...(witnessLocation ? { witness: witnessLocation } : {}),
    },
  };
}

/** The auditor's sentence about the tail. */
function tailCheck(context: ProofContext, headSeq: number): TailCheck {
  const { witness, ...tail } = context.tail;
  const storeName = `store ${context.storeId ?? '(no identity)'}`;
  const message =
    tail.checkedBy === 'witness'
      ? `The seal chain (head: seal ${headSeq}) reaches every checkpoint witness ${witness} holds for ${storeName} (newest: seal ${tail.checkedSeq}).${headSeq > (tail.checkedSeq ?? 0) ? ` Seals ${(tail.checkedSeq ?? 0) + 1}..${headSeq} are newer than the witness's copy: their removal could not be seen.` : ''}`
      : tail.checkedBy === 'anchor'
        ? `The tail was checked only against the seal key's own anchor (seal ${tail.checkedSeq}): someone holding the key and its anchor file can rewrite it unseen. Give --witness to check it against a copy kept outside the database.`
        : `The tail of the seal chain cannot be checked: no witness and no anchor for ${storeName}, so removing the newest runs (head: seal ${headSeq}) would go unseen. Give --witness <dir|url>.`;
  return { ...tail, headSeq, message };
}

/** The newest start or checkpoint seal of every run that has no final seal: compared as the scan reaches its head. */
async function openRunCheckpoints(store: Store): Promise<Map<string, StoredSeal>> {
  const rows = await queryRows(
    store,
    `SELECT DISTINCT ON (run_id) ${sealColumns} FROM seals s WHERE kind <> 'final' AND NOT EXISTS (SELECT 1 FROM seals f WHERE f.run_id = s.run_id AND f.kind = 'final') ORDER BY run_id, head_seq DESC, seq DESC`,
  );
  return new Map(rows.map((row) => [row.run_id as string, toSeal(row)]));
}

/** Runs left running that no live process owns (no lease, or an expired one): a process that stopped left them. */
async function unownedRuns(store: Store, runId?: string): Promise<string[]> {
  try {
    const rows = await queryRows<{ id: string; expires: string | null }>(
      store,
      `SELECT r.id, to_char(l.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id
       WHERE r.status = 'running' AND (l.expires_at < now() OR (l.run_id IS NULL AND r.started_at < now() - interval '15 minutes'))${runId !== undefined ? ' AND r.id = $1' : ''} ORDER BY r.id LIMIT 100`,
      runId !== undefined ? [runId] : [],
    );
    return rows.map(
      (row) =>
        `Run '${row.id}' is left running without an owner (${row.expires ? `its lease expired at ${row.expires}` : 'no process has held its lease for over 15 minutes'}): the process driving it stopped.`,
    );
  } catch {
    return [];
  }
}

/** Verifies one run: its chain, runs row and seals, their place in the seal chain, and the chain from there to its head against the anchors and witness. */
export async function verifyRun(
  store: Store,
  runId: string,
  options: VerifyOptions = {},
): Promise<VerificationReport & { tail: TailCheck }> {
  const context = await proofContext(store, options);
  const { trusted } = context;
  const [runRow] = await queryRows(store, `SELECT ${runColumns} FROM runs WHERE id = $1`, [runId]);
  const ownSeals = (await queryRows(store, `SELECT ${sealColumns} FROM seals WHERE run_id = $1 ORDER BY seq`, [runId])).map(toSeal);
  const seals = runSeals(ownSeals);
  const verifier = new RunChainVerifier(runId, { checkpoint: seals.latest, attestedSince: context.attestedSince });
  for await (const page of eventPages(store, { runId, ...(options.pageSize ? { pageSize: options.pageSize } : {}) })) {
    for (const event of page) verifier.add(event);
  }
  if (!runRow && ownSeals.length === 0 && verifier.broken === false) {
    const count = await queryRows<{ count: number }>(store, 'SELECT count(*)::int AS count FROM events WHERE run_id = $1', [runId]);
    if ((count[0]?.count ?? 0) === 0) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist in ${store.location}.`);
  }
  const report = verifier.finish(runRow ? toRunRow(runRow) : undefined, seals, trusted);
  report.warnings.push(...context.warnings, ...(await unownedRuns(store, runId)));
  const [head] = await queryRows<{ seq: number }>(store, 'SELECT seq FROM seals ORDER BY seq DESC LIMIT 1');
  const result = { ...report, tail: tailCheck(context, Number(head?.seq ?? 0)) };
  if (context.problems.length > 0) return { ...result, ok: false, problem: context.problems[0]! };
  if (!report.ok || ownSeals.length === 0) {
    if (ownSeals.length === 0 && report.ok) {
      // No seal of its own to walk from: the tail is still checked against the anchors.
      const tailProblem = await walkSealChain(store, context, undefined);
      if (tailProblem) return { ...result, ok: false, problem: tailProblem };
    }
    return result;
  }
  // The run's seals in the seal chain: the one before its first seal must be the one it links to,
  // and from there every seal up to the head must link (a removed checkpoint of this run shows as
  // a gap), reaching every anchor and witnessed checkpoint on the way.
  const first = ownSeals[0]!;
  for (const seal of ownSeals) {
    const problem = checkSealSignature(seal, trusted);
    if (problem) return { ...result, ok: false, problem };
  }
  const [before] =
    first.seq > 1 ? (await queryRows(store, `SELECT ${sealColumns} FROM seals WHERE seq = $1`, [first.seq - 1])).map(toSeal) : [];
  const expectedPrev = before?.sealHash ?? (first.seq === 1 ? '0'.repeat(64) : undefined);
  if (expectedPrev === undefined || first.prevSealHash !== expectedPrev) {
    return {
      ...result,
      ok: false,
      problem: {
        runId,
        seq: first.seq,
        kind: 'seal_chain_broken',
        message: `The seal before this run's first seal (seal ${first.seq - 1}) is missing or was changed.`,
        ...(expectedPrev ? { expected: expectedPrev } : {}),
        actual: first.prevSealHash,
      },
    };
  }
  const signatureProblem = before ? checkSealSignature(before, trusted) : undefined;
  if (signatureProblem) return { ...result, ok: false, problem: signatureProblem };
  const walkProblem = await walkSealChain(store, context, first);
  if (walkProblem) return { ...result, ok: false, problem: walkProblem };
  return result;
}

/** Walks the seal chain from a seal (default: the whole chain) to its head: links, hashes, store identity and anchors. */
async function walkSealChain(store: Store, context: ProofContext, from: StoredSeal | undefined): Promise<VerificationProblem | undefined> {
  const start = from?.seq ?? 1;
  const chain = new SealChainVerifier({
    trusted: context.trusted,
    storeId: context.storeId,
    anchors: context.anchors.filter((anchor) => anchor.seq >= start),
    signatures: false,
    ...(from ? { from: { seq: from.seq, prevSealHash: from.prevSealHash } } : {}),
  });
  for (let after = start - 1; ;) {
    const rows = await queryRows(store, `SELECT ${sealColumns} FROM seals WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, defaultPageSize]);
    for (const row of rows) chain.add(toSeal(row));
    if (rows.length < defaultPageSize) break;
    after = Number(rows[rows.length - 1]!.seq);
  }
  return chain.finish().problem;
}

/** The runs rows and seals of the runs that first appear in one page of the scan. */
interface RunLookup {
  ids: string[];
  /** Set once the page is read: the query for those ids. */
  result?: Promise<{ runs: Map<string, RunRow>; seals: Map<string, RunSeals> }>;
}

/** A run whose events the scan is checking or has checked, and where its runs row and seal come from. */
interface ScannedRun {
  verifier: RunChainVerifier;
  lookup: RunLookup;
}

async function lookUpRuns(store: Store, ids: string[]): Promise<{ runs: Map<string, RunRow>; seals: Map<string, RunSeals> }> {
  const idsJson = JSON.stringify(ids);
  const [runRows, sealRows] = await Promise.all([
    queryRows(store, `SELECT ${runColumns} FROM runs WHERE id IN (SELECT json_array_elements_text($1::json))`, [idsJson]),
    queryRows(store, `SELECT ${sealColumns} FROM seals WHERE run_id IN (SELECT json_array_elements_text($1::json)) ORDER BY seq`, [
      idsJson,
    ]),
  ]);
  const byRun = new Map<string, StoredSeal[]>();
  for (const row of sealRows) {
    const seal = toSeal(row);
    const list = byRun.get(seal.runId);
    if (list) list.push(seal);
    else byRun.set(seal.runId, [seal]);
  }
  return {
    runs: new Map(runRows.map((row) => [row.id as string, toRunRow(row)])),
    seals: new Map([...byRun].map(([id, list]) => [id, runSeals(list)])),
  };
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
export async function verifyEventRange(
  store: Store,
  range: { fromRun?: string; beforeRun?: string },
  trusted: TrustedKeys,
  pageSize: number,
  take: (report: VerificationReport) => void,
  runs: { checkpoints?: Map<string, StoredSeal>; attestedSince?: string | undefined } = {},
): Promise<void> {
  const upper = range.beforeRun !== undefined ? ' AND run_id < $4' : '';
  const text = `SELECT ${eventColumns} FROM events WHERE (run_id, seq) > ($1, $2)${upper} ORDER BY run_id, seq LIMIT $3`;
  const event: ChainEvent = {
    runId: '',
    seq: 0,
    ts: '',
    type: '',
    actor: '',
    payloadText: null,
    payloadSalt: null,
    payloadHash: '',
    schemaVersion: 0,
    redactions: null,
    erasedAt: null,
    prevHash: '',
    hash: '',
  };
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
        current = {
          verifier: new RunChainVerifier(event.runId, {
            checkpoint: runs.checkpoints?.get(event.runId),
            attestedSince: runs.attestedSince,
          }),
          lookup,
        };
        lookup.ids.push(event.runId);
      }
      current.verifier.add(event);
    } catch (error) {
      failure = { error };
    }
  };
  const readPage = () =>
    awaitedLater(
      forEachArray(store, text, [lastRun, lastSeq, pageSize, ...(range.beforeRun !== undefined ? [range.beforeRun] : [])], onRow),
    );
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
export async function verifyAll(
  store: Store,
  options: VerifyOptions & { onReport?: (report: VerificationReport) => void } = {},
): Promise<VerificationSummary> {
  const context = await proofContext(store, options);
  const { trusted, anchors } = context;
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
    tail: { checkedBy: 'none', storeId: context.storeId, headSeq: 0, message: '' },
  };
  summary.warnings.push(...context.warnings);
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
  const chain = new SealChainVerifier({ trusted, anchors, storeId: context.storeId });
  for (let after = 0; ;) {
    const rows = await queryRows(store, `SELECT ${sealColumns} FROM seals WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, pageSize]);
    for (const row of rows) chain.add(toSeal(row));
    if (rows.length < pageSize) break;
    after = Number(rows[rows.length - 1]!.seq);
  }
  summary.sealChain = chain.finish();
  summary.tail = tailCheck(context, summary.sealChain.head?.seq ?? 0);

  // 2. Every run that has events, in key order; open runs against their newest start or checkpoint seal.
  const checkpoints = await openRunCheckpoints(store);
  await verifyEventRange(store, {}, trusted, options.pageSize ?? defaultScanPageSize, take, {
    checkpoints,
    attestedSince: context.attestedSince,
  });

  // 3. Runs rows and seals whose events are gone entirely.
  const orphanRuns = await queryRows(
    store,
    `SELECT ${runColumns} FROM runs r WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = r.id) ORDER BY id`,
  );
  const orphanSeals = (
    await queryRows(
      store,
      `SELECT ${sealColumns} FROM seals s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = s.run_id) ORDER BY seq`,
    )
  ).map(toSeal);
  const orphanSealByRun = new Map<string, StoredSeal>();
  for (const seal of orphanSeals)
    if (!orphanSealByRun.has(seal.runId) || (seal.kind ?? 'final') === 'final') orphanSealByRun.set(seal.runId, seal);
  for (const row of orphanRuns) {
    const run = toRunRow(row);
    take(new RunChainVerifier(run.id).finish(run, orphanSealByRun.get(run.id), trusted));
    orphanSealByRun.delete(run.id);
  }
  for (const seal of orphanSealByRun.values()) {
    const report = new RunChainVerifier(seal.runId).finish(undefined, seal, trusted);
    take({
      ...report,
      problem: {
        runId: seal.runId,
        seq: seal.seq,
        kind: 'seal_run_missing',
        message: `Seal ${seal.seq} seals run '${seal.runId}', whose events and runs row are gone.`,
      },
    });
  }

  // 4. Runs no process drives any more.
  for (const warning of await unownedRuns(store)) if (summary.warnings.length < maxListed) summary.warnings.push(warning);

  summary.ok = summary.failed === 0 && summary.sealChain.ok && context.problems.length === 0;
  summary.problem = context.problems[0] ?? summary.failures[0]?.problem ?? summary.sealChain.problem;
  return summary;
}
