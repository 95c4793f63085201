// Writes seals into the store's seal chain: a run's start, its head while it is held or long, and
// its end. Each seal signs the store identity and links to the seal before it. After every seal
// the key signs a checkpoint of the chain's head, kept in the anchor file beside the key and
// handed to the witness, when one is configured.
//
// How a seal finds its place: a batch (a burst of starts, or what waited while the last one was
// written) locks the chain on Postgres (the store_identity row, FOR UPDATE) in the transaction
// that reads the head and links after it, so the batches of several processes (API servers,
// workers) queue for the head instead of racing for it. Racing cost a whole batch when it lost:
// every seal re-signed and re-sent (two writers' bursts signed 549 seals for 400). One seal alone
// links optimistically to the head this writer last left, without reading the chain (one round
// trip, what a single process always gets), and reads the chain again when another writer took
// its place.
//
// Within one process seals are written one batch at a time: whatever was asked while a batch was
// being written goes into the next one, linked in order and committed in one transaction. Without
// that, every concurrent start of a busy server raced for the same place in the chain and all but
// one retried: 200 runs started at once took 14 s to get their first event out (bench/workers).
// A start asked of an idle writer waits for the end of the event loop's turn, so the starts of one
// turn (a burst of requests read off their sockets together) are one batch, not the first alone
// with the rest queued behind its commit.
//
// What a batch commits besides its seals (a start's run row, first event and job: `unlinked`) does
// not depend on where the seals link, so on Postgres it is sent before the chain's lock: the store
// inserts it while another batch (of this process or another) holds the chain, and the chain is
// held only to link the seals and commit. A batch of starts is sent as soon as the batch before it
// has its unlinked rows in, rather than after that batch commits: two batches in flight, the second
// inserting while the first links and flushes its commit, and linking after it (it reads the head
// once it holds the lock). Starts may link in either order; other seals (a run's checkpoint, then
// its end) keep theirs, so they wait for the batch in flight. In a burst of 200 streaming starts
// against four workers (bench/workers) the batch's inserts and job took 60-105 ms and its commit
// 15-50 ms, all with the chain locked and the next batch waiting.
import { ErrorCode, SystemError, UserError } from '@aifactory/core';
import { runPrepared, type PreparedParameter, type Store } from '@aifactory/store';
import { signCheckpoint, type Checkpoint } from './checkpoint.ts';
import { genesisSealHash, sealHash, sealMessage, type SealKind, type SealSigner } from './seal-signer.ts';
import { anchorKey, isUniqueViolation, queryRows, readStoreId, storeFailure } from './store-access.ts';
import type { Witness } from './witness.ts';

/** The Postgres client of a store (postgres.js). */
type PostgresClient = Extract<Store['driver'], { kind: 'postgres' }>['client'];

/** A seal as written. */
export interface WrittenSeal {
  seq: number;
  /** final (the run ended), start, or checkpoint (a held or long run so far). */
  kind: SealKind;
  /** The store identity the seal signs. */
  storeId: string;
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

/** The columns of a seal insert, in the order of its parameters $1..$12 (ts last, as timestamptz). */
export const sealInsertColumns =
  'seq, run_id, kind, store_id, head_seq, head_hash, key_id, public_key, prev_seal_hash, seal_hash, signature, ts';
/** The parameter list of a seal insert. */
export const sealInsertValues =
  '$1::bigint, $2::text, $3::text, $4::text, $5::int, $6::text, $7::text, $8::text, $9::text, $10::text, $11::text, $12::timestamptz';

/**
 * Rows that one statement, shared by every seal of a batch that names it, writes: the statement's
 * text reads all their rows as one JSON array ($1::json). 200 runs started together cost one
 * statement per text, not 200.
 */
export interface BatchedRows {
  /** The statement; it reads the rows as `$1::json` (an array of every `row` of the batch with this text). */
  text: string;
  row: unknown;
}

/**
 * How a seal is written: its own statement (the seal's parameters are $1..$12; anything else from
 * $13), or batched rows. A statement that may decline to write its seal (it inserts the seal only
 * when something else in it went in) says by `written` whether the rows it returned show the seal
 * written (it is given them as arrays of column values on PGlite, as objects on Postgres: count
 * them); when not, the seal is not linked (the chain stays where it was) and the write rejects
 * with sealDeclined.
 */
export type SealWrite = { text: string; params: unknown[]; written?: (rows: unknown[]) => boolean } | { rows: readonly BatchedRows[] };

/** What a write rejects with when its statement declined to write the seal (see SealWrite). */
export const sealDeclined = Symbol('seal declined');

/** The statement that writes a seal. */
export type SealStatement = (sealParams: unknown[], seal: WrittenSeal) => SealWrite;

/**
 * How a batch writes a seal whose statement also writes rows that do not depend on the seal (a
 * run's start): `unlinked` sent before the chain is locked, then `linked` (the seal's own rows)
 * once the seal has its place. Written alone, the seal's statement writes everything at once.
 */
export interface SplitSeal {
  unlinked: readonly BatchedRows[];
  linked: SealStatement;
}

/** A plain seal insert. */
export const insertSealOnly: SealStatement = (params) => ({
  text: `INSERT INTO seals (${sealInsertColumns}) VALUES (${sealInsertValues})`,
  params,
});

/** Options of SealWriter. */
export interface SealWriterOptions {
  witness?: Witness | undefined;
  clock: () => Date;
  /** Called when the witness could not take a checkpoint (the seal is kept; the next checkpoint covers it). */
  onWitnessError?: ((error: unknown) => void) | undefined;
}

/** Extends one store's seal chain with one key. */
export class SealWriter {
  readonly #store: Store;
  readonly #signer: SealSigner;
  readonly #options: SealWriterOptions;
  /** Seals asked for while a batch is being written; they go in the next one. */
  #waiting: PendingSeal[] = [];
  #writing = false;
  /** A drain is due at the end of this turn of the event loop. */
  #scheduled = false;
  /**
   * The chain's head as this writer last left it. The next seal links to it without reading the
   * chain first (two round trips fewer per run); when another writer sealed since, the insert is
   * refused (seals_pkey) and the chain is read as before.
   */
  #head: { seq: number; sealHash: string } | undefined;

  constructor(store: Store, signer: SealSigner, options: SealWriterOptions) {
    this.#store = store;
    this.#signer = signer;
    this.#options = options;
  }

  /** The store identity seals sign; a store without one (its row was removed) cannot be sealed. */
  async storeId(): Promise<string> {
    const id = await readStoreId(this.#store).catch((error: unknown) => {
      throw storeFailure('read the store identity', error);
    });
    if (!id)
      throw new SystemError(
        ErrorCode.VerificationFailed,
        `The store at ${this.#store.location} has no identity (its store_identity row was removed or duplicated); nothing can be sealed until it is restored.`,
      );
    return id;
  }

  /**
   * Links a seal of the run's head into the chain with the given statement (default: the seal
   * alone). Retries when another writer took the seal's place; a unique violation on anything
   * else is the caller's to interpret.
   */
  write(request: SealRequest, statement: SealStatement = insertSealOnly, split?: SplitSeal): Promise<WrittenSeal> {
    return new Promise<WrittenSeal>((resolve, reject) => {
      this.#waiting.push({ request, statement, split, resolve, reject });
      // A run's start waits for the end of this turn of the event loop before an idle writer
      // begins, so the starts of one turn (a burst of requests read off their sockets together)
      // go in one batch rather than the first alone and the rest behind its commit. Other seals
      // (a hold's, an end's, a checkpoint's) are written at once, as before.
      if (request.kind !== 'start') void this.#drain();
      else if (!this.#writing && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          void this.#drain();
        });
      }
    });
  }

  /**
   * Writes what waits, one batch at a time, until nothing does; a batch of starts on Postgres is
   * sent once the batch before it has its unlinked rows in (see the top of this file).
   */
  async #drain(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    /** A batch of starts sent ahead: it still links and commits. */
    let linking: Promise<void> | undefined;
    try {
      while (this.#waiting.length > 0 || linking) {
        if (this.#waiting.length === 0) {
          await linking;
          linking = undefined;
          continue;
        }
        const batch = this.#waiting.splice(0, maxBatch);
        if (batch.length > 1 && this.#store.driver.kind === 'postgres' && batch.every((pending) => pending.request.kind === 'start')) {
          let unlinkedIn!: () => void;
          const sentAhead = new Promise<void>((resolve) => (unlinkedIn = resolve));
          const written = this.#writeAll(batch, unlinkedIn);
          await Promise.race([sentAhead, written]);
          // At most two batches in flight: the one before this must be done before a third is sent.
          await linking;
          linking = written;
          continue;
        }
        await linking;
        linking = undefined;
        await this.#writeAll(batch);
      }
    } finally {
      this.#writing = false;
    }
  }

  /** Writes a batch in one transaction, or each of its seals alone when that fails; never rejects. */
  async #writeAll(batch: PendingSeal[], unlinkedIn?: () => void): Promise<void> {
    if (batch.length > 1) {
      try {
        const seals = await this.#writeBatch(batch, unlinkedIn);
        batch.forEach((pending, index) => pending.resolve(seals[index]!));
        return;
      } catch {
        // One of them failed (a run started twice, the store gone): each is written alone
        // below, so each fails or succeeds on its own and says why.
      }
    }
    // One after another, in the order asked: a run's background checkpoint seal and its final
    // seal may wait in one batch, and the chain must link the final one last.
    for (const pending of batch) await this.#writeOne(pending.request, pending.statement).then(pending.resolve, pending.reject);
  }

  /**
   * Links every seal of the batch into the chain in one transaction, in order; the chain's head
   * is then checkpointed once (a checkpoint covers every seal before it). Throws when any
   * statement fails; retries when another process took the next place in the chain first.
   */
  async #writeBatch(batch: PendingSeal[], unlinkedIn?: () => void): Promise<WrittenSeal[]> {
    const storeId = await this.storeId();
    for (let attempt = 0; attempt < 200; attempt += 1) {
      try {
        const seals = await transaction(this.#store, async (run, commit) => {
          // On Postgres the rows that do not depend on the seals, the chain's lock and the head's
          // read go with BEGIN; the seals' rows with COMMIT.
          const unlinked = settleAll(
            issueRows(
              run,
              batch.flatMap((pending) => pending.split?.unlinked ?? []),
            ),
          );
          if (unlinkedIn) void unlinked.then(unlinkedIn, unlinkedIn);
          const [, [, [last]]] = await settleAll([
            unlinked,
            settleAll([
              this.#store.driver.kind === 'pglite' ? Promise.resolve([]) : run(lockSql),
              run<{ seq: number; seal_hash: string }>(headSql),
            ] as const),
          ] as const);
          let previous = last ? { seq: Number(last.seq), sealHash: last.seal_hash } : { seq: 0, sealHash: genesisSealHash };
          const written: WrittenSeal[] = [];
          for (const pending of batch) {
            const seal = this.#seal(storeId, pending.request, previous);
            written.push(seal);
            previous = seal;
          }
          const linked = batch.map((pending) => ({ statement: pending.split?.linked ?? pending.statement }));
          const { sent, declinable } = issueStatements(run, linked, written);
          if (!declinable) commit();
          await settleAll(sent);
          return written;
        });
        const newest = seals.at(-1)!;
        this.#head = { seq: newest.seq, sealHash: newest.sealHash };
        await this.#checkpoint(storeId, seals.at(-1)!);
        return seals;
      } catch (error) {
        if (!isUniqueViolation(error, 'seals_pkey')) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * Math.min(attempt + 1, 10)));
      }
    }
    throw new SystemError(ErrorCode.Conflict, `Could not seal ${batch.length} runs: the seal chain kept moving under 200 attempts.`);
  }

  /** The next seal after `previous`, signed. */
  #seal(storeId: string, request: SealRequest, previous: { seq: number; sealHash: string }): WrittenSeal {
    const ts = this.#options.clock();
    const fields = {
      kind: request.kind,
      storeId,
      seq: previous.seq + 1,
      runId: request.runId,
      headSeq: request.headSeq,
      headHash: request.headHash,
      prevSealHash: previous.sealHash,
      keyId: this.#signer.keyId,
      ts: ts.toISOString(),
    };
    const message = sealMessage(fields);
    const signature = this.#signer.sign(message);
    return { ...fields, ts, publicKey: this.#signer.publicKey, signature, sealHash: sealHash(message, signature) };
  }

  /** Links one seal into the chain (optimistically: retried when another writer took its place). */
  async #writeOne(request: SealRequest, statement: SealStatement): Promise<WrittenSeal> {
    const storeId = await this.storeId();
    for (let attempt = 0; attempt < 200; attempt += 1) {
      let previous = attempt === 0 ? this.#head : undefined;
      const remembered = previous !== undefined;
      if (!previous) {
        let last: { seq: number; seal_hash: string } | undefined;
        try {
          [last] = await queryRows<{ seq: number; seal_hash: string }>(
            this.#store,
            'SELECT seq, seal_hash FROM seals ORDER BY seq DESC LIMIT 1',
          );
        } catch (error) {
          throw storeFailure('read the seal chain', error);
        }
        previous = last ? { seq: Number(last.seq), sealHash: last.seal_hash } : { seq: 0, sealHash: genesisSealHash };
      }
      const seal = this.#seal(storeId, request, previous);
      const write = statement(sealParameters(seal), seal);
      let returned: unknown[] = [];
      try {
        if ('rows' in write && write.rows.length > 1) {
          // Several statements (a run's start and what commits with it): one transaction (on
          // Postgres sent with its BEGIN and COMMIT at once: rows cannot decline).
          await transaction(this.#store, (run, commit) => {
            const { sent } = issueStatements(run, [{ statement: () => write }], [seal]);
            commit();
            return settleAll(sent);
          });
        } else if ('rows' in write) {
          if (write.rows[0]) await runStatement(this.#store, write.rows[0].text, [JSON.stringify([write.rows[0].row])]);
        } else returned = await runStatement(this.#store, write.text, write.params);
      } catch (error) {
        if (isUniqueViolation(error, 'seals_pkey')) {
          // Another seal took this place in the chain first; link after it (at once when only the
          // remembered head was stale, else after a little while).
          this.#head = undefined;
          if (!remembered) await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * Math.min(attempt + 1, 10)));
          continue;
        }
        if (isUniqueViolation(error, 'seals_run_id_unique'))
          throw new UserError(ErrorCode.Conflict, `Run '${request.runId}' is already sealed.`, { cause: error });
        // Another unique key of the caller's statement (a run started twice): theirs to name.
        if (isUniqueViolation(error)) throw error;
        throw storeFailure(`seal run '${request.runId}'`, error);
      }
      // Nothing was linked: the chain's head is where it was (this writer's remembered one too).
      if ('text' in write && write.written && !write.written(returned)) throw sealDeclined;
      this.#head = { seq: seal.seq, sealHash: seal.sealHash };
      await this.#checkpoint(storeId, seal);
      return seal;
    }
    throw new SystemError(ErrorCode.Conflict, `Could not seal run '${request.runId}': the seal chain kept moving under 200 attempts.`);
  }

  /** Signs the chain's new head and keeps it beside the key and with the witness. */
  async #checkpoint(storeId: string, seal: WrittenSeal): Promise<Checkpoint> {
    const checkpoint = signCheckpoint(this.#signer, { storeId, sealSeq: seal.seq, sealHash: seal.sealHash, ts: seal.ts });
    await this.#signer.writeAnchor(anchorKey(this.#store, storeId), { seq: seal.seq, sealHash: seal.sealHash, checkpoint });
    if (this.#options.witness) {
      try {
        await this.#options.witness.submit(checkpoint);
      } catch (error) {
        this.#options.onWitnessError?.(error);
      }
    }
    return checkpoint;
  }
}

/** What a seal seals. */
type SealRequest = { kind: SealKind; runId: string; headSeq: number; headHash: string };

/** A seal asked for and not yet written. */
interface PendingSeal {
  request: SealRequest;
  statement: SealStatement;
  /** How a batch writes it, when its statement also writes rows that do not depend on the seal. */
  split: SplitSeal | undefined;
  resolve(seal: WrittenSeal): void;
  reject(error: unknown): void;
}

/**
 * Runs one seal's statement on its own (a run's start, a run's end, a seal). On PGlite it is a named
 * prepared statement (runPrepared), its rows arrays of column values: query() would parse and plan
 * the statement afresh each time, and a run's start and end each cost about six appends that way.
 * Parameters the wire cannot carry as text (objects, dates) go through query() as before.
 */
async function runStatement(store: Store, text: string, params: readonly unknown[]): Promise<unknown[]> {
  if (store.driver.kind === 'pglite' && params.every(isTextParameter))
    return (await runPrepared(store.driver.client, text, params as PreparedParameter[])).rows;
  return queryRows(store, text, params as unknown[]);
}

/** Whether a parameter goes as runPrepared's text (String(value)) the way query() would send it. */
function isTextParameter(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint';
}

/** Seals written in one transaction at most (bounds how long it holds its connection). */
const maxBatch = 256;

/** A seal's statement parameters $1..$12, in the order of sealInsertColumns. */
function sealParameters(seal: WrittenSeal): unknown[] {
  return [
    seal.seq,
    seal.runId,
    seal.kind,
    seal.storeId,
    seal.headSeq,
    seal.headHash,
    seal.keyId,
    seal.publicKey,
    seal.prevSealHash,
    seal.sealHash,
    seal.signature,
    seal.ts.toISOString(),
  ];
}

/**
 * Sends the statements of a batch of seals (`written[i]` is the seal of `batch[i]`) without
 * waiting between them: each caller's own statements, then the rows of all of them, one statement
 * per kind of row. `declinable`: some statement may write nothing and decline its seal (a fenced
 * end whose lease was lost), which fails the batch, so its transaction must not commit before
 * every answer is read.
 */
function issueStatements(
  run: <Row>(text: string, params?: unknown[]) => Promise<Row[]>,
  batch: readonly Pick<PendingSeal, 'statement'>[],
  written: readonly WrittenSeal[],
): { sent: Promise<unknown>[]; declinable: boolean } {
  const sent: Promise<unknown>[] = [];
  const batched: BatchedRows[] = [];
  let declinable = false;
  batch.forEach((pending, index) => {
    const write = pending.statement(sealParameters(written[index]!), written[index]!);
    if ('rows' in write) batched.push(...write.rows);
    else {
      // A declined seal fails the batch (rolled back: the seals after it link to it), and each is written alone.
      const { written } = write;
      if (written) declinable = true;
      sent.push(
        written
          ? run(write.text, write.params).then((rows) => {
              if (!written(rows)) throw sealDeclined;
            })
          : run(write.text, write.params),
      );
    }
  });
  sent.push(...issueRows(run, batched));
  return { sent, declinable };
}

/** Sends batched rows, one statement per text (each reads its rows as one JSON array), in the order each text first came. */
function issueRows(run: <Row>(text: string, params?: unknown[]) => Promise<Row[]>, rows: readonly BatchedRows[]): Promise<unknown>[] {
  const byText = new Map<string, unknown[]>();
  for (const { text, row } of rows) {
    const same = byText.get(text);
    if (same) same.push(row);
    else byText.set(text, [row]);
  }
  return [...byText].map(([text, same]) => run(text, [JSON.stringify(same)]));
}

/**
 * Waits for every promise, then rejects with the first one's error in the order given (statements
 * sent down one connection fail in that order: the first is the cause, the others only found the
 * transaction aborted), or resolves with their values. No rejection is left unhandled.
 */
async function settleAll<T extends readonly Promise<unknown>[]>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as never;
}

/**
 * Locks the seal chain until the transaction ends (Postgres): the store_identity row, one per
 * store and schema, so deployments sharing a database do not wait for each other. Read Committed
 * takes a new snapshot for each statement, so the head read after the lock (a statement of its
 * own, sent after it) is the head the previous holder committed. PGlite has one writer: no lock.
 */
const lockSql = 'SELECT 1 FROM store_identity FOR UPDATE';
/** The seal chain's head. */
const headSql = 'SELECT seq, seal_hash FROM seals ORDER BY seq DESC LIMIT 1';

/**
 * One transaction on one Postgres connection, its statements sent without waiting for one
 * another's answers: postgres.js pipelines what is sent down a connection (a query is sent when
 * first awaited, so each is `execute()`d as it is made, in order), so BEGIN goes with the
 * body's first statements, and COMMIT, once the body calls `commit()`, with its last ones, where
 * postgres.js's own `begin()` waits for BEGIN, for each statement the body awaits, then for COMMIT
 * (a batch of run starts took five round trips; it takes two, a single start one). Every
 * statement runs, in the order sent, as it would have: a failed one aborts the transaction, the
 * statements after it fail, and a COMMIT sent behind them ends it as a rollback. `commit()` only
 * for statements whose answers need no reading before the transaction may commit. Without
 * `commit()`, COMMIT is sent once the body resolves; when it throws, ROLLBACK.
 */
async function pipelined<T>(
  client: PostgresClient,
  body: (run: <Row>(text: string, params?: unknown[]) => Promise<Row[]>, commit: () => void) => Promise<T>,
): Promise<T> {
  const reserved = await client.reserve();
  const begin = reserved.unsafe('BEGIN').execute();
  let ended: Promise<unknown> | undefined;
  const commit = () => void (ended ??= reserved.unsafe('COMMIT').execute());
  try {
    const run = <Row>(text: string, params: unknown[] = []) =>
      reserved.unsafe(text, params as never[], { prepare: true }).execute() as unknown as Promise<Row[]>;
    let result: T;
    try {
      // A body that throws before it awaits anything still ends the transaction below.
      [, result] = await settleAll([begin, (async () => body(run, commit))()] as const);
    } catch (error) {
      // Sent COMMIT ends a failed transaction as a rollback; else roll back here.
      await settleAll([ended ?? reserved.unsafe('ROLLBACK').execute()]).catch(() => undefined);
      throw error;
    }
    commit();
    await ended;
    return result;
  } finally {
    reserved.release();
  }
}

/**
 * Runs `body` in one transaction on either engine, handing it a statement runner and `commit()`,
 * which a body calls once it has sent every statement and needs none of their answers before the
 * transaction may commit (on Postgres COMMIT is then sent behind them: see pipelined).
 */
async function transaction<T>(
  store: Store,
  body: (run: <Row>(text: string, params?: unknown[]) => Promise<Row[]>, commit: () => void) => Promise<T>,
): Promise<T> {
  if (store.driver.kind === 'pglite')
    return store.driver.client.transaction(async (tx) =>
      body(
        async <Row>(text: string, params: unknown[] = []) => (await tx.query<Row>(text, params)).rows,
        () => undefined,
      ),
    );
  return pipelined(store.driver.client, body);
}
