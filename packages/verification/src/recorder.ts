// The recorder: the write side of the verification plane. Every event is validated, redacted,
// salted, hashed onto its run's chain and committed before record() resolves (write-ahead), so
// the execution plane can record a decision durably before it acts.
//
// Throughput without giving up integrity:
// - a per-run head cache makes an append one round trip (one INSERT); the (run_id, seq) primary
//   key catches a second writer of the same run (a vote, an expiry, another process): the loser
//   reloads the head, chains its events after the winner's and commits again, so concurrent
//   writers never make a run fail;
// - an owner's appends carry its lease epoch (a fence): the INSERT commits only while that epoch
//   still holds the run's lease row, locked FOR SHARE, so a take-over waits for appends in flight
//   and an owner that lost its lease records nothing (LEASE_LOST);
// - appends of one run are serialised in this process, appends of different runs never wait on
//   each other, and concurrent appends across runs are group-committed: whatever is queued while
//   a commit is in flight goes out as the next multi-row INSERT. A caller's promise resolves only
//   when the statement holding its own rows has committed.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { ErrorCode, SystemError, UserError, canonicalJson } from '@aifactory/core';
import { runPrepared, type PreparedParameter, type Store } from '@aifactory/store';
import { currentSchemaVersion, eventPayloadSchemas, eventTypes, isEventType, terminalEventTypes, type EventType } from './event-types.ts';
import { canonicalHeader, genesisHash, headerHash, newSalt, payloadHash, type RedactionNote } from './hash-chain.ts';
import { acceptsFast } from './payload-fast-check.ts';
import type { Redactor } from './redaction.ts';
import { createSigner, type SealSigner } from './seal-signer.ts';
import { leaseLostError, type RunFence } from './run-lease.ts';
import { SealWriter, sealDeclined, sealInsertColumns, sealInsertValues, type BatchedRows, type WrittenSeal } from './seal-writer.ts';
import { executeCount, isUniqueViolation, queryRows, storeFailure } from './store-access.ts';
import { verifyRun } from './verify.ts';
import type { Witness } from './witness.ts';

/** An event as a caller hands it to the recorder. */
export interface EventDraft {
  /** What happened (noun.past-tense). */
  type: EventType;
  /** Who did it: an agent id, a principal, `runtime`, `control-plane`, a tool name. */
  actor: string;
  /** The typed payload of the event type (see eventPayloadSchemas). */
  payload: unknown;
}

/** An event as committed. */
export interface RecordedEvent {
  runId: string;
  seq: number;
  ts: Date;
  type: EventType;
  actor: string;
  /** The payload as recorded (after redaction). */
  payload: unknown;
  payloadHash: string;
  schemaVersion: number;
  /** What redaction replaced (paths and kinds only); empty when nothing. */
  redactions: RedactionNote[];
  prevHash: string;
  hash: string;
}

/** A run seal: an Ed25519 signature over the run's head hash, linked to the previous seal (what the seal writer writes). */
export type Seal = WrittenSeal;

/** What a run starts with. */
export interface RunStart {
  /** Run id; default `run_<uuid>`. */
  id?: string;
  agent: string;
  team?: string;
  principal: string;
  input?: unknown;
  metadata?: Record<string, unknown>;
  /** The run this one replays. */
  replayOf?: string;
  /** The run that handed off to this one. */
  parentRunId?: string;
}

/** How a run ended. */
export interface RunOutcome {
  status: 'completed' | 'failed';
  /** Payload of the run.completed / run.failed event. */
  payload?: unknown;
}

/** How an append is made: by the run's owner (fenced by its lease epoch) or by anyone else (a vote). */
export interface AppendOptions {
  /** The owner's lease epoch; the append commits only while that epoch holds the lease (else LEASE_LOST). */
  fence?: RunFence;
  /**
   * Append right after this seq, or not at all: when another writer appended since (the run's head
   * is past it), nothing is recorded and CONFLICT is thrown instead of chaining after that writer.
   * For a writer without the lease whose events follow from what it read up to there (a human's
   * decision on the actions in doubt): the (run_id, seq) key arbitrates, so two never both commit.
   */
  after?: number;
}

/** How a run is started. */
export interface StartOptions {
  /** Take the run's first lease (epoch 1) for this owner in the same commit. */
  lease?: { owner: string; ttlMs: number };
  /**
   * Rows written in the start's commit (the job queue's job that drives the run: queued if and
   * only if the start committed). Each statement runs once for every start of a batch naming it.
   */
  commitWith?: readonly BatchedRows[];
}

/** The write side of the trace. */
export interface Recorder {
  /** Inserts the run and records `run.started` (seq 1) in one commit (and its first lease, when asked). */
  startRun(run: RunStart, options?: StartOptions): Promise<RecordedEvent>;
  /** Records one event; resolves only when it is committed, after any event a concurrent writer got in first. */
  record(runId: string, event: EventDraft, options?: AppendOptions): Promise<RecordedEvent>;
  /** Records several events of one run in one commit (all or none). */
  recordBatch(runId: string, events: EventDraft[], options?: AppendOptions): Promise<RecordedEvent[]>;
  /**
   * Marks a run held (waiting for a human; its head is checkpoint-sealed first; with a fence, that
   * lease is handed back in the same commit) or running again.
   * Before a held run runs again its chain is verified against its seals; a rewritten run is
   * refused (VERIFICATION_FAILED), the refusal recorded, and the run stays held.
   */
  setStatus(runId: string, status: 'running' | 'held', options?: AppendOptions): Promise<void>;
  /** Records run.completed / run.failed, then seals the run. */
  finishRun(runId: string, outcome: RunOutcome, options?: AppendOptions): Promise<{ event: RecordedEvent; seal: Seal }>;
  /**
   * Seals a run whose last event already ends it (a process died between the two), once its chain
   * verifies. With a fence (recovery, under a taken-over lease) that lease is handed back in the seal's commit.
   */
  sealRun(runId: string, options?: AppendOptions): Promise<Seal>;
  /** Checkpoint-seals a run's head now (what holds and the periodic checkpoints do). */
  checkpoint(runId: string): Promise<Seal>;
  /** The run's head as this recorder knows it (loaded from the store on first use). */
  head(runId: string): Promise<{ seq: number; hash: string; ended: boolean }>;
  /** The signer's key id. */
  readonly keyId: string;
}

/** Options of createRecorder. */
export interface RecorderOptions {
  /** Seal key; default an ephemeral in-memory key (seals then verify only unpinned). */
  signer?: SealSigner;
  /** Redaction before hashing; default none. */
  redactor?: Redactor;
  /** Clock for event timestamps (tests). */
  clock?: () => Date;
  /** Group commit: statements in flight at once (default 1 on PGlite, 2 on Postgres) and rows per statement (default 500). */
  groupCommit?: { maxInFlight?: number; maxRows?: number };
  /** Where signed checkpoints are kept outside the database (see witnessFromEnvironment); default none. */
  witness?: Witness;
  /** Called when the witness could not take a checkpoint (the seal stands; the next checkpoint covers it). */
  onWitnessError?: (error: unknown) => void;
  /**
   * Checkpoint seals of running runs: after every `everyEvents` events (default 500), and when
   * `everySeconds` (default 60) have passed since a run's last seal with events not yet covered,
   * written in the background (the append that made one due does not wait for it).
   * false: only at start, hold and end.
   */
  checkpoints?: { everyEvents?: number; everySeconds?: number } | false;
}

/** An event ready to insert. */
interface PreparedRow {
  runId: string;
  seq: number;
  ts: string;
  type: EventType;
  actor: string;
  payload: string;
  salt: string;
  payloadHash: string;
  schemaVersion: number;
  redactions: RedactionNote[] | null;
  prevHash: string;
  hash: string;
  /**
   * The canonical header the hash covers (canonicalHeader): a JSON object of the row's run_id, seq,
   * ts, type, actor, payload_hash, schema_version and redactions (when any), under the table's own
   * column names, so the JSON rows are written from it (rowsJson).
   */
  header: string;
  /** The owner's lease epoch the row is fenced by, if any. */
  fence?: number;
}

/** A validated, redacted event before it gets its place in the chain. */
interface CheckedDraft {
  type: EventType;
  actor: string;
  payload: unknown;
  payloadText: string;
  redactions: RedactionNote[];
}

interface Head {
  seq: number;
  hash: string;
  /** The last event ends the run (run.completed / run.failed): nothing may follow it. */
  ended: boolean;
}

/** A row is inserted only when it carries no fence, or its fence still holds the run's lease (locked until commit). */
const fenceHolds = (runId: string, epoch: string) =>
  `(${epoch} IS NULL OR EXISTS (SELECT 1 FROM run_leases l WHERE l.run_id = ${runId} AND l.epoch = ${epoch} FOR SHARE))`;

/** Where a run's last seal (start or checkpoint) left it, for the periodic checkpoints. */
interface Coverage {
  seq: number;
  at: number;
  timer?: ReturnType<typeof setTimeout> | undefined;
  /** A periodic checkpoint of this run is being written in the background. */
  sealing?: boolean;
}

const eventColumns = 'run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, redactions, prev_hash, hash';

/**
 * Rows given as JSON ($1, each with the fence it is appended under) and their payloads as one text
 * (`payloadsParam`), zipped in order (ROWS FROM); the WHERE says how the fence is checked. A
 * payload apart from its row goes as it is: inside the JSON it had to be escaped, a quote at a
 * time, and then unescaped by the server (writing the rows JSON was a sixth of recording an action's
 * JavaScript, most of it the payloads' escaping).
 */
const insertEventsFrom = (payloadsParam: string) => `INSERT INTO events (${eventColumns})
SELECT ${eventColumns}
FROM ROWS FROM (
  json_to_recordset($1::json) AS (run_id text, seq int, ts timestamptz, type text, actor text, payload_salt text, payload_hash text, schema_version int, redactions jsonb, prev_hash text, hash text, fence int),
  unnest(string_to_array(${payloadsParam}::text, chr(30)))
) AS x(run_id, seq, ts, type, actor, payload_salt, payload_hash, schema_version, redactions, prev_hash, hash, fence, payload)`;
/** Rows of several runs ($2 their payloads): the runs whose rows went in come back. */
const insertEventsSql = `${insertEventsFrom('$2')}\nWHERE ${fenceHolds('x.run_id', 'x.fence')}\nRETURNING run_id`;
/**
 * Rows of one run ($2 the run, $3 its fence's epoch, $4 the payloads): the rows share one fence, so
 * it is checked once for the statement (an InitPlan) instead of once a row, each check a lookup and
 * a FOR SHARE lock.
 */
const insertRunEventsSql = `${insertEventsFrom('$4')}\nWHERE ${fenceHolds('$2::text', '$3::int')}`;

/**
 * A run's end in one statement ($1 the terminal event as a JSON row and $16 its payload, fenced like
 * any append; $2..$13 the final seal's parameters; $14 the status; $15 the fence's epoch, whose lease
 * is handed back): the seal, the runs row and the lease move only when the event went in, and the
 * row returned says so.
 */
const endRunSql = `WITH appended AS (${insertEventsFrom('$16')}
  WHERE ${fenceHolds('x.run_id', 'x.fence')}
  RETURNING run_id),
sealed AS (
  INSERT INTO seals (${sealInsertColumns})
  SELECT ${sealInsertValues.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + 1}`)} FROM appended RETURNING run_id),
released AS (
  UPDATE run_leases SET state = 'released', expires_at = now() WHERE run_id IN (SELECT run_id FROM sealed) AND epoch = $15::int)
UPDATE runs SET status = $14, ended_at = $13::timestamptz, head_seq = $6, head_hash = $7 WHERE id IN (SELECT run_id FROM sealed) RETURNING id`;

/**
 * On PGlite, rows up to this many go out as a VALUES list of parameters; more, and any rows on
 * Postgres, as one JSON parameter. Measured side by side (three rows of a step): PGlite, which
 * runs in-process, spends about a tenth less on the VALUES list than on reading JSON; postgres.js
 * spends about a tenth more binding 39 parameters than writing one JSON text, so Postgres keeps the
 * JSON. On PGlite every statement is a named prepared statement (runPrepared): query() would parse
 * and plan it afresh on every append, which cost four times the insert itself.
 */
const maxValuesRows = 8;
const valuesSql: Array<{ returning: string; counted: string }> = [];

/**
 * The statement for `count` rows as plain parameters (13 a row), for PGlite: no JSON to write and
 * escape here nor to parse in the database. `counted` (one run's rows) learns from the row count
 * whether the fence held; `returning` (rows of several runs) names the runs whose rows went in.
 */
function valuesStatement(count: number): { returning: string; counted: string } {
  let statement = valuesSql[count];
  if (!statement) {
    const tuples: string[] = [];
    for (let row = 0; row < count; row += 1) {
      const p = (column: number) => `$${row * 13 + column}`;
      tuples.push(
        `(${p(1)}::text, ${p(2)}::int, ${p(3)}::timestamptz, ${p(4)}::text, ${p(5)}::text, ${p(6)}::text, ${p(7)}::text, ${p(8)}::text, ${p(9)}::int, ${p(10)}::jsonb, ${p(11)}::text, ${p(12)}::text, ${p(13)}::int)`,
      );
    }
    const body = `INSERT INTO events (${eventColumns})
SELECT ${eventColumns}
FROM (VALUES ${tuples.join(', ')}) AS x(${eventColumns}, fence)`;
    // One run's rows share its fence: checked once, by the first row's run and epoch ($1, $13).
    statement = {
      returning: `${body}\nWHERE ${fenceHolds('x.run_id', 'x.fence')}\nRETURNING run_id`,
      counted: `${body}\nWHERE ${fenceHolds('$1::text', '$13::int')}`,
    };
    valuesSql[count] = statement;
  }
  return statement;
}

/**
 * The JSON rows json_to_recordset reads (column names as in the table), without their payloads
 * (payloadsText). As JSON values in the rows the payloads would need no escaping, but the server
 * then parses every nested member (2.2x the server's CPU to read a step's rows). Each row is its
 * canonical header, already written for its hash (every column but these four, the redactions
 * only when there are any: a missing key reads as NULL), with the other four appended.
 */
function rowsJson(rows: readonly PreparedRow[]): string {
  let text = '[';
  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    text +=
      (index === 0 ? '' : ',') +
      row.header.slice(0, -1) +
      `,"fence":${row.fence ?? null},"payload_salt":${JSON.stringify(row.salt)},"prev_hash":${JSON.stringify(row.prevHash)},"hash":${JSON.stringify(row.hash)}}`;
  }
  return `${text}]`;
}

/** Between two payloads in payloadsText: canonical JSON writes every control character escaped, so no payload holds it. */
const payloadSeparator = '\u001e';

/** The rows' payloads (canonical JSON texts) in one text, in row order, as the statements split it (chr(30)). */
function payloadsText(rows: readonly PreparedRow[]): string {
  let text = '';
  for (let index = 0; index < rows.length; index += 1) {
    const payload = rows[index]!.payload;
    // Never so for canonical JSON; checked, since a payload split in two would shift every payload after it.
    if (payload.includes(payloadSeparator))
      throw new SystemError(
        ErrorCode.Internal,
        `The payload of event ${rows[index]!.seq} of run '${rows[index]!.runId}' holds a raw U+001E.`,
      );
    text = index === 0 ? payload : text + payloadSeparator + payload;
  }
  return text;
}

/** The parameters of insertRunEventsSql: one run's rows as JSON, the run, its fence's epoch, the payloads. */
function runEventsParams(rows: readonly PreparedRow[]): PreparedParameter[] {
  return [rowsJson(rows), rows[0]!.runId, rows[0]!.fence ?? null, payloadsText(rows)];
}

/** The parameters of rows in a VALUES statement, 13 a row. */
function rowsParams(rows: readonly PreparedRow[]): PreparedParameter[] {
  const params: PreparedParameter[] = [];
  for (const row of rows) {
    params.push(
      row.runId,
      row.seq,
      row.ts,
      row.type,
      row.actor,
      row.payload,
      row.salt,
      row.payloadHash,
      row.schemaVersion,
      row.redactions ? JSON.stringify(row.redactions) : null,
      row.prevHash,
      row.hash,
      row.fence ?? null,
    );
  }
  return params;
}

/**
 * Inserts rows in one statement (one commit). Resolves the runs whose rows were inserted: a run
 * missing there was fenced out. `runs` is how many runs the rows belong to: the rows of one run
 * are inserted all or none (one fence), so their count answers without rows coming back.
 */
async function insertEventRows(store: Store, rows: readonly PreparedRow[], runs: number): Promise<Set<string>> {
  if (store.driver.kind === 'pglite') {
    const client = store.driver.client;
    const values = rows.length <= maxValuesRows;
    if (runs === 1) {
      const inserted = values
        ? await runPrepared(client, valuesStatement(rows.length).counted, rowsParams(rows))
        : await runPrepared(client, insertRunEventsSql, runEventsParams(rows));
      return inserted.affectedRows === rows.length ? new Set([rows[0]!.runId]) : new Set();
    }
    const inserted = values
      ? await runPrepared(client, valuesStatement(rows.length).returning, rowsParams(rows))
      : await runPrepared(client, insertEventsSql, [rowsJson(rows), payloadsText(rows)]);
    return new Set(inserted.rows.map((insertedRow) => insertedRow[0]!));
  }
  if (runs === 1) {
    const inserted = await executeCount(store, insertRunEventsSql, runEventsParams(rows));
    return inserted === rows.length ? new Set([rows[0]!.runId]) : new Set();
  }
  const inserted = await queryRows<{ run_id: string }>(store, insertEventsSql, [rowsJson(rows), payloadsText(rows)]);
  return new Set(inserted.map((insertedRow) => insertedRow.run_id));
}

/** A start row's columns (startRunsSql, startRunsUnsealedSql). */
const startColumns = `id text, agent text, team text, principal text, input jsonb, metadata jsonb, replay_of text, parent_run_id text, ts timestamptz,
    actor text, payload text, payload_salt text, payload_hash text, schema_version int, redactions jsonb, prev_hash text, hash text,
    lease_owner text, lease_ttl_ms int`;
/** A start seal's columns in a start row (sealRow). */
const startSealColumns = `seal_seq bigint, seal_kind text, store_id text, head_seq int, head_hash text, key_id text, public_key text,
    prev_seal_hash text, seal_hash text, signature text, seal_ts timestamptz`;
/** What a start row inserts besides its seal: the run, its first lease (when it names an owner) and run.started (`started`). */
const startCtes = `run AS (
    INSERT INTO runs (id, agent, team, principal, status, input, metadata, replay_of, parent_run_id, started_at)
    SELECT id, agent, team, principal, 'running', input, metadata, replay_of, parent_run_id, ts FROM x RETURNING id),
  lease AS (
    INSERT INTO run_leases (run_id, owner, epoch, state, acquired_at, expires_at)
    SELECT x.id, x.lease_owner, 1, 'driving', now(), now() + x.lease_ttl_ms * interval '1 millisecond'
    FROM x JOIN run ON run.id = x.id WHERE x.lease_owner IS NOT NULL),
  started AS (
    INSERT INTO events (run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, redactions, prev_hash, hash)
    SELECT x.id, 1, x.ts, 'run.started', x.actor, x.payload, x.payload_salt, x.payload_hash, x.schema_version, x.redactions, x.prev_hash, x.hash
    FROM x JOIN run ON run.id = x.id RETURNING run_id)`;
/** The columns a start seal's row inserts, from x. */
const startSealValues = `x.seal_seq, x.id, x.seal_kind, x.store_id, x.head_seq, x.head_hash, x.key_id, x.public_key, x.prev_seal_hash, x.seal_hash, x.signature, x.seal_ts`;

/**
 * Starts runs: each row inserts a run, its run.started event, its start seal and (when it names an
 * owner) its first lease, all rows of a batch in one statement. A run started alone goes this way.
 */
const startRunsSql = `WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(${startColumns}, ${startSealColumns})),
  ${startCtes}
INSERT INTO seals (${sealInsertColumns}) SELECT ${startSealValues} FROM x JOIN started ON started.run_id = x.id`;
/**
 * Starts runs in a batch of seals, in two statements: this one (the run, its lease, run.started),
 * sent before the seal chain is locked, and startSealsSql once the seals have their place (see
 * seal-writer.ts). Both commit in the batch's transaction.
 */
const startRunsUnsealedSql = `WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(${startColumns})),
  ${startCtes}
SELECT count(*) FROM started`;
/** The start seals of a batch of starts (rows of an id and sealRow). */
const startSealsSql = `INSERT INTO seals (${sealInsertColumns})
SELECT ${startSealValues} FROM json_to_recordset($1::json) AS x(id text, ${startSealColumns})`;

/** A seal's columns as a row of startRunsSql. */
function sealRow(seal: WrittenSeal): Record<string, unknown> {
  return {
    seal_seq: seal.seq,
    seal_kind: seal.kind,
    store_id: seal.storeId,
    head_seq: seal.headSeq,
    head_hash: seal.headHash,
    key_id: seal.keyId,
    public_key: seal.publicKey,
    prev_seal_hash: seal.prevSealHash,
    seal_hash: seal.sealHash,
    signature: seal.signature,
    seal_ts: seal.ts.toISOString(),
  };
}

/** Creates the recorder over a store. */
export function createRecorder(store: Store, options: RecorderOptions = {}): Recorder {
  return new TraceRecorder(store, options);
}

const maxCachedHeads = 10_000;
/** Attempts of one append racing other writers of the same run before it gives up. */
const maxAppendAttempts = 50;
/** What a unit is rejected with when its fence no longer held the run's lease. */
const fencedOut = Symbol('fenced out');
const runIdPattern = /^[\w.:@-]{1,200}$/;

class TraceRecorder implements Recorder {
  readonly #store: Store;
  readonly #signer: SealSigner;
  readonly #redactor: Redactor | undefined;
  readonly #clock: () => Date;
  readonly #heads = new Map<string, Head>();
  readonly #tails = new Map<string, Promise<unknown>>();
  readonly #committer: GroupCommitter;
  readonly #seals: SealWriter;
  readonly #checkpointEvents: number;
  readonly #checkpointMillis: number;
  readonly #coverage = new Map<string, Coverage>();

  constructor(store: Store, options: RecorderOptions) {
    this.#store = store;
    this.#signer = options.signer ?? createSigner(generateKeyPairSync('ed25519').privateKey);
    this.#redactor = options.redactor;
    this.#clock = options.clock ?? (() => new Date());
    this.#seals = new SealWriter(store, this.#signer, {
      witness: options.witness,
      clock: this.#clock,
      onWitnessError: options.onWitnessError,
    });
    this.#checkpointEvents =
      options.checkpoints === false ? Number.POSITIVE_INFINITY : Math.max(1, options.checkpoints?.everyEvents ?? 500);
    this.#checkpointMillis =
      options.checkpoints === false ? Number.POSITIVE_INFINITY : Math.max(0.001, options.checkpoints?.everySeconds ?? 60) * 1000;
    this.#committer = new GroupCommitter(store, {
      maxInFlight: options.groupCommit?.maxInFlight ?? (store.kind === 'pglite' ? 1 : 2),
      maxRows: options.groupCommit?.maxRows ?? 500,
    });
  }

  get keyId(): string {
    return this.#signer.keyId;
  }

  async startRun(run: RunStart, options: StartOptions = {}): Promise<RecordedEvent> {
    const id = run.id ?? `run_${randomUUID()}`;
    if (!runIdPattern.test(id))
      throw new UserError(ErrorCode.InputInvalid, `Run id '${id}' is invalid; use 1-200 letters, digits and . _ : @ -.`, {
        location: { path: 'id' },
      });
    const payload: Record<string, unknown> = { agent: run.agent, principal: run.principal };
    if (run.team !== undefined) payload.team = run.team;
    if (run.input !== undefined) payload.input = run.input;
    if (run.metadata !== undefined) payload.metadata = run.metadata;
    if (run.replayOf !== undefined) payload.replay_of = run.replayOf;
    if (run.parentRunId !== undefined) payload.parent_run_id = run.parentRunId;
    const checked = this.#check({ type: 'run.started', actor: run.principal, payload }, 0);
    const recorded = checked.payload as {
      agent: string;
      principal: string;
      team?: string;
      input?: unknown;
      metadata?: Record<string, unknown>;
    };
    const at = this.#clock();
    const ts = at.toISOString();
    const row = chainRow(id, { seq: 0, hash: genesisHash, ended: false }, checked, ts);
    return this.#exclusive(id, async () => {
      // The run, its first event and its start seal commit together (with its first lease, when
      // asked, and whatever the caller commits with it): a run without a start seal was not
      // started by a recorder holding the key. Starts of one batch share one statement.
      const startRow = {
        id,
        agent: recorded.agent,
        team: recorded.team ?? null,
        principal: recorded.principal,
        input: recorded.input === undefined ? null : recorded.input,
        metadata: recorded.metadata ?? {},
        replay_of: run.replayOf ?? null,
        parent_run_id: run.parentRunId ?? null,
        ts,
        actor: row.actor,
        payload: row.payload,
        payload_salt: row.salt,
        payload_hash: row.payloadHash,
        schema_version: row.schemaVersion,
        redactions: row.redactions,
        prev_hash: row.prevHash,
        hash: row.hash,
        lease_owner: options.lease?.owner ?? null,
        lease_ttl_ms: options.lease?.ttlMs ?? null,
      };
      try {
        await this.#seals.write(
          { kind: 'start', runId: id, headSeq: 1, headHash: row.hash },
          (_, seal) => ({ rows: [{ text: startRunsSql, row: { ...startRow, ...sealRow(seal) } }, ...(options.commitWith ?? [])] }),
          {
            unlinked: [{ text: startRunsUnsealedSql, row: startRow }, ...(options.commitWith ?? [])],
            linked: (_, seal) => ({ rows: [{ text: startSealsSql, row: { id, ...sealRow(seal) } }] }),
          },
        );
      } catch (error) {
        if (isUniqueViolation(error))
          throw new UserError(ErrorCode.Conflict, `Run '${id}' already exists; a run is started once.`, { details: { runId: id } });
        throw storeFailure(`start run '${id}'`, error);
      }
      this.#coverage.set(id, { seq: 1, at: Date.now() });
      this.#remember(id, { seq: 1, hash: row.hash, ended: false });
      return toRecorded(row, checked.payload, at.getTime());
    });
  }

  async record(runId: string, event: EventDraft, options: AppendOptions = {}): Promise<RecordedEvent> {
    const checked = this.#checkAppendable(this.#check(event, 0), 0);
    const [recorded] = await this.#exclusive(runId, () => this.#append(runId, [checked], options.fence, { after: options.after }));
    return recorded!;
  }

  async recordBatch(runId: string, events: EventDraft[], options: AppendOptions = {}): Promise<RecordedEvent[]> {
    if (!Array.isArray(events)) throw new UserError(ErrorCode.InputInvalid, 'recordBatch takes an array of events.');
    const checked = events.map((event, index) => this.#checkAppendable(this.#check(event, index), index));
    if (checked.length === 0) return [];
    return this.#exclusive(runId, () => this.#append(runId, checked, options.fence, { after: options.after }));
  }

  async setStatus(runId: string, status: 'running' | 'held', options: AppendOptions = {}): Promise<void> {
    if (status !== 'running' && status !== 'held')
      throw new UserError(ErrorCode.InputInvalid, `Status '${String(status)}' cannot be set; use running or held (finishRun ends a run).`);
    return this.#exclusive(runId, async () => {
      let current: { status: string } | undefined;
      try {
        [current] = await queryRows<{ status: string }>(this.#store, 'SELECT status FROM runs WHERE id = $1', [runId]);
      } catch (error) {
        throw storeFailure(`read the status of run '${runId}'`, error);
      }
      if (!current) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist.`);
      if (current.status !== 'running' && current.status !== 'held')
        throw new UserError(ErrorCode.Conflict, `Run '${runId}' has ended (${current.status}); its status cannot change to ${status}.`);
      if (current.status === 'held' && status === 'running') await this.#verifyBeforeResume(runId);
      let updated: unknown[];
      try {
        // A held run has no driver: its owner's lease is handed back in the commit that holds it, so
        // no process that dies after the hold leaves a held run's lease behind.
        updated = await queryRows(
          this.#store,
          `WITH updated AS (UPDATE runs SET status = $2 WHERE id = $1 AND status IN ('running', 'held') AND ${fenceHolds('$1', '$3::int')} RETURNING id),
           released AS (UPDATE run_leases SET state = 'released', expires_at = now()
             WHERE $2 = 'held' AND run_id IN (SELECT id FROM updated) AND epoch = $3::int AND state <> 'released')
           SELECT id FROM updated`,
          [runId, status, options.fence?.epoch ?? null],
        );
      } catch (error) {
        throw storeFailure(`set the status of run '${runId}'`, error);
      }
      if (updated.length === 0) {
        const [row] = await queryRows<{ status: string }>(this.#store, 'SELECT status FROM runs WHERE id = $1', [runId]);
        if (options.fence && (row?.status === 'running' || row?.status === 'held'))
          throw leaseLostError(runId, options.fence.epoch, `set its status to ${status}`);
        throw new UserError(ErrorCode.Conflict, `Run '${runId}' ended while its status was being set to ${status}.`);
      }
      // A held run waits hours for a human: seal its history so far before anyone waits on it.
      if (status === 'held') await this.#checkpointSeal(runId, await this.#head(runId));
    });
  }

  /**
   * A held run is about to act again: its chain must still be the one its seals signed (the
   * checkpoint made when it was held covers every event up to the hold). A rewritten run fails
   * closed; the refusal is recorded in its trace (not sealed: nothing vouches for that chain).
   */
  async #verifyBeforeResume(runId: string): Promise<void> {
    this.#heads.delete(runId);
    const report = await verifyRun(this.#store, runId, { trustedKeys: [this.#signer.publicKey] });
    // A run held before start seals existed (legacy) resumes on its chain alone.
    if (report.ok && (report.attested !== false || report.legacy === true)) return;
    const reason =
      report.problem?.message ?? 'the run carries no seal of a recorder holding the key (nothing vouches that it was started here).';
    const refusal = this.#check(
      {
        type: 'resume.refused',
        actor: 'runtime',
        payload: { reason, ...(report.problem ? { problem: report.problem.kind, seq: report.problem.seq ?? null } : {}) },
      },
      0,
    );
    await this.#append(runId, [refusal], undefined, { skipCheckpoint: true }).catch(() => undefined);
    throw new UserError(
      ErrorCode.VerificationFailed,
      `Run '${runId}' may not resume: its recorded history does not verify (${reason}) It stays held; run 'factory runs verify ${runId}'.`,
      {
        details: { runId, ...(report.problem ? { problem: report.problem } : {}) },
      },
    );
  }

  async finishRun(runId: string, outcome: RunOutcome, options: AppendOptions = {}): Promise<{ event: RecordedEvent; seal: Seal }> {
    if (outcome?.status !== 'completed' && outcome?.status !== 'failed') {
      throw new UserError(ErrorCode.InputInvalid, `A run finishes as completed or failed, not '${String(outcome?.status)}'.`);
    }
    const checked = this.#check(
      { type: outcome.status === 'completed' ? 'run.completed' : 'run.failed', actor: 'runtime', payload: outcome.payload ?? {} },
      0,
    );
    return this.#exclusive(runId, () => this.#appendEnd(runId, checked, options.fence));
  }

  /**
   * Records a run's terminal event and seals the run in one statement (one commit, one round trip
   * where it took two): the event, the final seal over it, the runs row's status, time and head,
   * and the hand-back of the owner's lease. Fenced like an append: when the fence no longer holds
   * the lease nothing is written (the seal declines) and LEASE_LOST is thrown; when another writer
   * appended first, the event is chained after its events and the statement sent again.
   */
  async #appendEnd(runId: string, checked: CheckedDraft, fence?: RunFence): Promise<{ event: RecordedEvent; seal: Seal }> {
    const status = checked.type === 'run.completed' ? 'completed' : 'failed';
    for (let attempt = 1; ; attempt += 1) {
      const head = await this.#head(runId);
      if (head.ended) throw endedRun(runId, head.seq);
      const at = this.#clock();
      const row = chainRow(runId, head, checked, at.toISOString());
      if (fence) row.fence = fence.epoch;
      try {
        const seal = await this.#seals.write({ kind: 'final', runId, headSeq: row.seq, headHash: row.hash }, (sealParams) => ({
          text: endRunSql,
          params: [rowsJson([row]), ...sealParams, status, fence?.epoch ?? null, payloadsText([row])],
          written: (rows) => rows.length === 1,
        }));
        this.#heads.delete(runId);
        this.#forgetCoverage(runId);
        return { event: toRecorded(row, checked.payload, at.getTime()), seal };
      } catch (error) {
        this.#heads.delete(runId);
        if (error === sealDeclined) throw leaseLostError(runId, fence?.epoch ?? 0, `record ${checked.type}`);
        if (isUniqueViolation(error, 'events_run_id_seq_pk') && attempt < maxAppendAttempts) {
          // Another writer appended first; chain after it.
          await appendBackOff(attempt);
          continue;
        }
        throw storeFailure(`record ${checked.type} for run '${runId}' and seal it`, error);
      }
    }
  }

  checkpoint(runId: string): Promise<Seal> {
    return this.#exclusive(runId, async () => this.#checkpointSeal(runId, await this.#head(runId)));
  }

  head(runId: string): Promise<{ seq: number; hash: string; ended: boolean }> {
    return this.#exclusive(runId, async () => ({ ...(await this.#head(runId)) }));
  }

  async sealRun(runId: string, options: AppendOptions = {}): Promise<Seal> {
    return this.#exclusive(runId, async () => {
      const [last] = await queryRows<{ seq: number; hash: string; type: string }>(
        this.#store,
        'SELECT seq, hash, type FROM events WHERE run_id = $1 ORDER BY seq DESC LIMIT 1',
        [runId],
      );
      if (!last) throw new UserError(ErrorCode.NotFound, `Run '${runId}' has no events.`);
      if (!terminalEventTypes.has(last.type as EventType)) {
        throw new UserError(
          ErrorCode.Conflict,
          `Run '${runId}' has not ended (its last event is ${last.type}); finish it with finishRun().`,
        );
      }
      // A seal vouches for the whole chain: never sign one that does not verify, or that no
      // recorder holding this key started (an invented run would become a clean one).
      const report = await verifyRun(this.#store, runId, { trustedKeys: [this.#signer.publicKey] });
      if (!report.ok) {
        throw new UserError(
          ErrorCode.VerificationFailed,
          `Run '${runId}' is not sealed: its chain does not verify (${report.problem?.message ?? 'unknown break'}).`,
          { details: { runId, ...(report.problem ? { problem: report.problem } : {}) } },
        );
      }
      if (report.attested === false) {
        throw new UserError(
          ErrorCode.VerificationFailed,
          `Run '${runId}' is not sealed: it has no start or checkpoint seal, so nothing shows a recorder holding this key started it.`,
          { details: { runId } },
        );
      }
      return this.#seal(runId, { seq: Number(last.seq), hash: last.hash, ended: true }, last.type as EventType, options.fence);
    });
  }

  /** run.started and the terminal events have their own methods, which keep the runs row and seal in step. */
  #checkAppendable(draft: CheckedDraft, index: number): CheckedDraft {
    if (draft.type === 'run.started')
      throw new UserError(ErrorCode.InputInvalid, 'run.started is recorded by startRun(), not record().', {
        location: { path: `events[${index}].type` },
      });
    if (terminalEventTypes.has(draft.type)) {
      throw new UserError(ErrorCode.InputInvalid, `${draft.type} is recorded by finishRun(), which also seals the run.`, {
        location: { path: `events[${index}].type` },
      });
    }
    return draft;
  }

  /** Validates and redacts one draft; refuses anything unknown before any side effect. */
  #check(event: EventDraft, index: number): CheckedDraft {
    const where = `events[${index}]`;
    if (event === null || typeof event !== 'object') throw new UserError(ErrorCode.InputInvalid, `${where} is not an event object.`);
    if (!isEventType(event.type)) {
      throw new UserError(ErrorCode.InputInvalid, `Unknown event type '${String(event.type)}'; known types: ${eventTypes.join(', ')}.`, {
        location: { path: `${where}.type` },
      });
    }
    if (typeof event.actor !== 'string' || event.actor.length === 0) {
      throw new UserError(ErrorCode.InputInvalid, `Event ${event.type} needs an actor (a non-empty string).`, {
        location: { path: `${where}.actor` },
      });
    }
    // The hot payloads are accepted without zod when they plainly fit; anything else zod decides.
    const parsed = acceptsFast(event.type, event.payload)
      ? { success: true as const }
      : eventPayloadSchemas[event.type].safeParse(event.payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? `payload.${issue.path.join('.')}` : 'payload';
      throw new UserError(ErrorCode.InputInvalid, `Payload of ${event.type} is invalid at ${field}: ${issue.message}.`, {
        location: { path: `${where}.${field}` },
        details: { type: event.type },
      });
    }
    const redacted = this.#redactor ? this.#redactor.redact(event.payload) : { value: event.payload, redactions: [] };
    let payloadText: string;
    try {
      payloadText = canonicalJson(redacted.value);
    } catch (error) {
      throw new UserError(ErrorCode.InputInvalid, `Payload of ${event.type} cannot be recorded as JSON: ${(error as Error).message}`, {
        location: { path: `${where}.payload` },
        cause: error,
      });
    }
    return { type: event.type, actor: event.actor, payload: redacted.value, payloadText, redactions: redacted.redactions };
  }

  /**
   * Appends checked drafts to a run; the caller holds the run's turn. When another writer took the
   * next seq first, the drafts are chained again after its events and committed again: concurrent
   * writers (a vote beside the owner, an expiry, a resume) never make a run fail.
   */
  async #append(
    runId: string,
    drafts: CheckedDraft[],
    fence?: RunFence,
    options: { skipCheckpoint?: boolean; after?: number | undefined } = {},
  ): Promise<RecordedEvent[]> {
    const moved = (headSeq: number) =>
      new UserError(
        ErrorCode.Conflict,
        `Run '${runId}' was appended to after seq ${options.after} (its head is at ${headSeq}), so ${drafts.map((draft) => draft.type).join(', ')} was not recorded; read the run again.`,
        { details: { runId, after: options.after, headSeq } },
      );
    // A conditional append goes by the store's head, never a cached one.
    if (options.after !== undefined) this.#heads.delete(runId);
    for (let attempt = 1; ; attempt += 1) {
      const head = this.#heads.get(runId) ?? (await this.#head(runId));
      if (options.after !== undefined && head.seq !== options.after) throw moved(head.seq);
      if (head.ended) throw endedRun(runId, head.seq);
      const at = this.#clock();
      const ts = at.toISOString();
      const rows: PreparedRow[] = [];
      let previous = head;
      for (const draft of drafts) {
        const row = chainRow(runId, previous, draft, ts);
        if (fence) row.fence = fence.epoch;
        rows.push(row);
        previous = { seq: row.seq, hash: row.hash, ended: terminalEventTypes.has(draft.type) };
      }
      try {
        await this.#committer.submit(rows);
      } catch (error) {
        this.#heads.delete(runId);
        if (error === fencedOut) throw leaseLostError(runId, fence?.epoch ?? 0, `record ${drafts.map((draft) => draft.type).join(', ')}`);
        if (isUniqueViolation(error)) {
          if (options.after !== undefined) throw moved(options.after + 1);
          if (attempt < maxAppendAttempts) {
            // Another writer got in first; back off a little (more after each loss) and chain after it.
            await appendBackOff(attempt);
            continue;
          }
          throw new SystemError(
            ErrorCode.Conflict,
            `Run '${runId}' kept being appended to by other writers: ${maxAppendAttempts} attempts to record ${drafts.map((draft) => draft.type).join(', ')} lost the race. Nothing was recorded.`,
            {
              details: { runId, headSeq: head.seq },
              cause: error,
            },
          );
        }
        throw storeFailure(`record ${drafts.map((draft) => draft.type).join(', ')} for run '${runId}'`, error);
      }
      this.#remember(runId, previous);
      if (!previous.ended && !options.skipCheckpoint) this.#maybeCheckpoint(runId, previous);
      return rows.map((row, index) => toRecorded(row, drafts[index]!.payload, at.getTime()));
    }
  }

  async #head(runId: string): Promise<Head> {
    const cached = this.#heads.get(runId);
    if (cached) return cached;
    let rows: Array<{ seq: number; hash: string; type: string }>;
    try {
      rows = await queryRows(this.#store, 'SELECT seq, hash, type FROM events WHERE run_id = $1 ORDER BY seq DESC LIMIT 1', [runId]);
    } catch (error) {
      throw storeFailure(`load the head of run '${runId}'`, error);
    }
    const row = rows[0];
    if (!row) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist; start it with startRun() first.`);
    const head = { seq: Number(row.seq), hash: row.hash, ended: terminalEventTypes.has(row.type as EventType) };
    this.#remember(runId, head);
    return head;
  }

  #remember(runId: string, head: Head): void {
    this.#heads.delete(runId);
    this.#heads.set(runId, head);
    if (this.#heads.size > maxCachedHeads) this.#heads.delete(this.#heads.keys().next().value!);
  }

  /** Runs work for one run after the run's previous work; different runs never wait on each other. */
  #exclusive<T>(runId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(runId) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(runId, tail);
    void tail.then(() => {
      if (this.#tails.get(runId) === tail) this.#tails.delete(runId);
    });
    return result;
  }

  /** Signs the run's end and links it into the seal chain; the runs row takes the seal's status, time and head. */
  async #seal(runId: string, head: Head, terminal: EventType, fence?: RunFence): Promise<Seal> {
    const status = terminal === 'run.completed' ? 'completed' : 'failed';
    const seal = await this.#seals.write({ kind: 'final', runId, headSeq: head.seq, headHash: head.hash }, (sealParams) => ({
      text: `WITH sealed AS (INSERT INTO seals (${sealInsertColumns}) VALUES (${sealInsertValues}) RETURNING run_id),
             released AS (UPDATE run_leases SET state = 'released', expires_at = now() WHERE run_id IN (SELECT run_id FROM sealed) AND epoch = $14::int)
             UPDATE runs SET status = $13, ended_at = $12::timestamptz, head_seq = $5, head_hash = $6 WHERE id IN (SELECT run_id FROM sealed)`,
      params: [...sealParams, status, fence?.epoch ?? null],
    }));
    this.#heads.delete(runId);
    this.#forgetCoverage(runId);
    return seal;
  }

  /** Seals a run's head so far (held, or long): the events up to it can no longer be changed unseen. */
  async #checkpointSeal(runId: string, head: Head): Promise<Seal> {
    const seal = await this.#seals.write({ kind: 'checkpoint', runId, headSeq: head.seq, headHash: head.hash });
    const coverage = this.#coverage.get(runId);
    if (coverage?.timer) clearTimeout(coverage.timer);
    this.#coverage.set(runId, { seq: head.seq, at: Date.now() });
    return seal;
  }

  /**
   * The periodic checkpoint, after an append: when everyEvents events are uncovered it is written
   * in the background (the append is durable and answered already; a seal of a committed head
   * needs no turn of the run, and the seal chain orders it after every seal asked for before it),
   * else a timer is set for when everySeconds will have passed. A checkpoint that fails leaves
   * the coverage as it was, so the next append asks again.
   */
  #maybeCheckpoint(runId: string, head: Head): void {
    if (!Number.isFinite(this.#checkpointEvents) && !Number.isFinite(this.#checkpointMillis)) return;
    let coverage = this.#coverage.get(runId);
    if (!coverage) {
      // A run this recorder did not start (another process, or before a restart): count from here.
      coverage = { seq: head.seq - 1, at: Date.now() };
      this.#coverage.set(runId, coverage);
    }
    const uncovered = head.seq - coverage.seq;
    if (uncovered <= 0 || coverage.sealing) return;
    if (uncovered >= this.#checkpointEvents || Date.now() - coverage.at >= this.#checkpointMillis) {
      const sealing = coverage;
      sealing.sealing = true;
      void this.#seals.write({ kind: 'checkpoint', runId, headSeq: head.seq, headHash: head.hash }).then(
        () => {
          // The run may have ended (its coverage forgotten) or been checkpointed since.
          if (this.#coverage.get(runId) !== sealing) return;
          if (sealing.timer) clearTimeout(sealing.timer);
          this.#coverage.set(runId, { seq: head.seq, at: Date.now() });
        },
        () => {
          sealing.sealing = false;
        },
      );
      return;
    }
    if (!coverage.timer && Number.isFinite(this.#checkpointMillis)) {
      const timer = setTimeout(
        () => {
          const current = this.#coverage.get(runId);
          if (current?.timer !== timer) return;
          current.timer = undefined;
          // Failures are left to the next append, which checkpoints again once it is due.
          void this.#exclusive(runId, async () => {
            const latest = await this.#head(runId);
            if (!latest.ended && latest.seq > (this.#coverage.get(runId)?.seq ?? 0)) await this.#checkpointSeal(runId, latest);
          }).catch(() => undefined);
        },
        Math.max(0, this.#checkpointMillis - (Date.now() - coverage.at)),
      );
      timer.unref?.();
      coverage.timer = timer;
    }
  }

  #forgetCoverage(runId: string): void {
    const coverage = this.#coverage.get(runId);
    if (coverage?.timer) clearTimeout(coverage.timer);
    this.#coverage.delete(runId);
  }
}

/** Builds the chained row for a draft after `previous`. */
function chainRow(runId: string, previous: Head, draft: CheckedDraft, ts: string): PreparedRow {
  const salt = newSalt();
  const hashOfPayload = payloadHash(salt, draft.payloadText);
  const seq = previous.seq + 1;
  const redactions = draft.redactions.length > 0 ? draft.redactions : null;
  const header = canonicalHeader({
    runId,
    seq,
    ts,
    type: draft.type,
    actor: draft.actor,
    payloadHash: hashOfPayload,
    schemaVersion: currentSchemaVersion,
    redactions,
  });
  const hash = headerHash(previous.hash, header);
  return {
    runId,
    seq,
    ts,
    type: draft.type,
    actor: draft.actor,
    payload: draft.payloadText,
    salt,
    payloadHash: hashOfPayload,
    schemaVersion: currentSchemaVersion,
    redactions,
    prevHash: previous.hash,
    hash,
    header,
  };
}

/** The event as committed; `at` is the time its ts was written from (no need to parse that text back). */
function toRecorded(row: PreparedRow, payload: unknown, at: number): RecordedEvent {
  return {
    runId: row.runId,
    seq: row.seq,
    ts: new Date(at),
    type: row.type,
    actor: row.actor,
    payload,
    payloadHash: row.payloadHash,
    schemaVersion: row.schemaVersion,
    redactions: row.redactions ?? [],
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

/** A queued unit of rows (one record/recordBatch call) and its caller's promise. */
interface PendingUnit {
  rows: PreparedRow[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit across runs. A unit waits only while every statement slot is busy; then all queued
 * units go out as one multi-row INSERT (one commit). Each caller learns the outcome of the
 * statement holding its rows. At most one unit per run is queued at a time (the recorder
 * serialises a run's appends), so units in one statement never depend on each other.
 */
class GroupCommitter {
  readonly #store: Store;
  readonly #maxInFlight: number;
  readonly #maxRows: number;
  #queue: PendingUnit[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(store: Store, options: { maxInFlight: number; maxRows: number }) {
    this.#store = store;
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#maxRows = Math.max(1, options.maxRows);
  }

  submit(rows: PreparedRow[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ rows, resolve, reject });
      if (this.#inFlight < this.#maxInFlight && !this.#scheduled) {
        // Let appends issued in the same turn of the event loop join this statement.
        this.#scheduled = true;
        queueMicrotask(() => {
          this.#scheduled = false;
          this.#pump();
        });
      }
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const units: PendingUnit[] = [];
      let count = 0;
      while (this.#queue.length > 0 && (units.length === 0 || count + this.#queue[0]!.rows.length <= this.#maxRows)) {
        const unit = this.#queue.shift()!;
        units.push(unit);
        count += unit.rows.length;
      }
      this.#inFlight += 1;
      void this.#flush(units).finally(() => {
        this.#inFlight -= 1;
        this.#pump();
      });
    }
  }

  async #flush(units: PendingUnit[]): Promise<void> {
    const rows = units.length === 1 ? units[0]!.rows : units.flatMap((unit) => unit.rows);
    try {
      settle(units, await insertEventRows(this.#store, rows, units.length));
    } catch (error) {
      if (units.length > 1 && isUniqueViolation(error)) {
        // One run lost a race with another writer; commit the other runs' units on their own.
        await Promise.all(
          units.map((unit) => insertEventRows(this.#store, unit.rows, 1).then((inserted) => settle([unit], inserted), unit.reject)),
        );
        return;
      }
      for (const unit of units) unit.reject(error);
    }
  }
}

/** Resolves each unit whose run's rows went in; a unit whose run is missing was fenced out. */
function settle(units: readonly PendingUnit[], inserted: Set<string>): void {
  for (const unit of units) {
    if (inserted.has(unit.rows[0]!.runId)) unit.resolve();
    else unit.reject(fencedOut);
  }
}

/** The wait before an append that lost the race for a run's next seq tries again: random, growing with the attempts. */
function appendBackOff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(attempt, 10) * 2));
}

/** Nothing is recorded after a run's last event. */
function endedRun(runId: string, headSeq: number): UserError {
  return new UserError(ErrorCode.Conflict, `Run '${runId}' has ended (seq ${headSeq}); nothing can be recorded after its last event.`, {
    details: { runId, headSeq },
  });
}
