// The job queue that carries runs from the processes that accept them (`factory serve --queue`) to
// the processes that drive them (`factory worker`), on the deployment's Postgres. Every piece of
// background work is a job here: a run's first drive, its resume once an approval is decided, its
// recovery once its owner died, and the delivery of notifications committed by a run.
//
// The queue is graphile-worker, not pg-boss, because:
// - a job is picked up the moment it commits (LISTEN/NOTIFY), where pg-boss polls (no faster than
//   every half second), which alone would cost a governed run more than its whole first step;
// - `add_job` is a SQL function, so a job can be added in the same transaction as the write it must
//   follow (the notification outbox below) — a side effect is queued if and only if it committed;
// - job keys keep one pending job per run however many processes ask for it, and a job whose worker
//   is still running it gets a fresh successor instead of being lost;
// - it lives in a schema of its own, so tenants and tests sharing one database never see each
//   other's jobs.
// What graphile-worker does not do is notice a crashed worker quickly (its lock on a job lapses only
// after four hours). It does not need to: exactly-once effects per run step come from the run's
// lease and fencing epoch (run_leases), and the supervisor each worker runs notices a lapsed lease
// within a lease and queues a new job for the run, which the next free worker takes.
import { ErrorCode, SystemError, UserError } from '@aifactory/core';
import type { RecoveryResult } from '@aifactory/execution';
import { errorText, type Store } from '@aifactory/store';
import { Logger, makeWorkerUtils, run, type Runner, type Task, type WorkerUtils } from 'graphile-worker';
import { sql } from 'drizzle-orm';
import pg from 'pg';

/** The task that drives one run on. */
export const driveRunTask = 'aifactory_drive_run';
/** The task that delivers the notification outbox. */
export const deliverNotificationsTask = 'aifactory_deliver_notifications';

/** Why a run is queued. */
export type DriveReason = 'start' | 'resume' | 'orphaned' | 'stalled' | 'handed-back' | 'resolve';

/** The payload of a drive job. */
export interface DriveRunJob {
  runId: string;
  reason: DriveReason;
  /** The approval to apply (a resume). */
  approvalId?: string;
}

/** Options of RunQueue.open. */
export interface RunQueueOptions {
  /** The Postgres the store lives in. */
  databaseUrl: string;
  /** The store's schema; the queue lives beside it in `<schema>_jobs` (`aifactory_jobs` for public). */
  storeSchema: string;
  /** Connections the queue may hold (default 4). */
  maxConnections?: number;
  /** Where the queue's own warnings and errors go (default: stderr as JSON lines). */
  log?: (line: Record<string, unknown>) => void;
}

/** What a worker does with each job. */
export interface QueueWorkerOptions {
  /** Drives a run on (the workspace runtime's drive()). */
  drive(job: DriveRunJob): Promise<RecoveryResult>;
  /** Delivers due notifications (absent: notification jobs complete without delivering). */
  deliverNotifications?: () => Promise<unknown>;
  /** Jobs run at once in this process (default 8). */
  concurrency?: number;
  /** Told what became of each job (logs, tests). */
  onJob?: (report: { task: string; runId?: string; reason?: string; outcome: string; error?: string }) => void;
}

/** A worker taking jobs off the queue. */
export interface QueueWorker {
  /** Stops taking jobs and waits for those in flight (run drain() on the runtime first to hand runs back quickly). */
  stop(): Promise<void>;
  /** Settles when the worker stops (or fails). */
  readonly done: Promise<void>;
}

/** The schema the queue's tables live in for a store schema. */
export function queueSchemaFor(storeSchema: string): string {
  return storeSchema === 'public' ? 'aifactory_jobs' : `${storeSchema}_jobs`.slice(0, 63);
}

/** The job queue of one Postgres store. */
export class RunQueue {
  /** The schema the queue's tables live in. */
  readonly schema: string;
  readonly #options: RunQueueOptions;
  readonly #utils: WorkerUtils;
  readonly #logger: Logger;
  /** Drives asked for in this turn of the event loop, added together at its end. */
  #drives: { job: DriveRunJob; resolve: () => void; reject: (error: unknown) => void }[] = [];
  /** Settles once the drives asked for so far are added (or failed). */
  #adding: Promise<void> = Promise.resolve();

  private constructor(options: RunQueueOptions, schema: string, utils: WorkerUtils, logger: Logger) {
    this.#options = options;
    this.schema = schema;
    this.#utils = utils;
    this.#logger = logger;
  }

  /** Opens the queue of the store at `databaseUrl`, creating or migrating its schema. */
  static async open(options: RunQueueOptions): Promise<RunQueue> {
    const schema = queueSchemaFor(options.storeSchema);
    const logger = queueLogger(options.log);
    let utils: WorkerUtils | undefined;
    try {
      utils = await makeWorkerUtils({ connectionString: options.databaseUrl, schema, logger, maxPoolSize: options.maxConnections ?? 4 });
      // Several processes may start at once on a fresh database: the loser of a concurrent
      // migration finds it done on its next try.
      for (let attempt = 1; ; attempt += 1) {
        try {
          await utils.migrate();
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        }
      }
    } catch (error) {
      await Promise.resolve(utils?.release()).catch(() => undefined);
      throw new SystemError(ErrorCode.StoreUnavailable, `Cannot open the job queue (schema ${schema}): ${(error as Error).message}.`, {
        cause: error,
      });
    }
    return new RunQueue(options, schema, utils, logger);
  }

  /** The queue of the store a workspace opened, or a clear refusal on the embedded store. */
  static async forStore(store: Store, options: { databaseUrl?: string; what: string; log?: RunQueueOptions['log'] }): Promise<RunQueue> {
    if (store.kind !== 'postgres' || !options.databaseUrl) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `${options.what} needs a Postgres store (set DATABASE_URL): the embedded store belongs to one process by design, so runs on it are driven by that process (\`factory serve\` alone does everything).`,
      );
    }
    return RunQueue.open({ databaseUrl: options.databaseUrl, storeSchema: store.schemaName, ...(options.log ? { log: options.log } : {}) });
  }

  /**
   * The queue of a Postgres store when workers were deployed on it (its schema exists), else
   * undefined — never created here: a CLI uses it to hand a run to the workers like a server would.
   */
  static async ifPresent(store: Store, options: { databaseUrl?: string; log?: RunQueueOptions['log'] }): Promise<RunQueue | undefined> {
    if (store.kind !== 'postgres' || !options.databaseUrl) return undefined;
    const schema = queueSchemaFor(store.schemaName);
    const rows = await store.query<{ present: boolean }>(sql`SELECT to_regnamespace(${schema}) IS NOT NULL AS present`);
    if (!rows[0]?.present) return undefined;
    return RunQueue.open({ databaseUrl: options.databaseUrl, storeSchema: store.schemaName, ...(options.log ? { log: options.log } : {}) });
  }

  /**
   * Queues a drive of the run. One pending job per run: a second request before it is taken
   * replaces the first. Drives asked for in one turn of the event loop are added in one statement
   * (graphile-worker's add_jobs, which replaces by key as add_job does): 200 runs started together
   * cost one round trip and one commit, not 200.
   */
  enqueueDrive(job: DriveRunJob): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#drives.push({ job, resolve, reject });
      if (this.#drives.length === 1) this.#adding = new Promise<void>((done) => setImmediate(() => void this.#addDrives().finally(done)));
    });
  }

  /** Adds the drives asked for since the last turn. */
  async #addDrives(): Promise<void> {
    const asked = this.#drives;
    this.#drives = [];
    // add_jobs may not touch one key twice: the last request for a run wins, as a second add_job would.
    const byRun = new Map(asked.map(({ job }) => [job.runId, job]));
    try {
      await this.#utils.addJobs(
        [...byRun.values()].map((job) => ({ identifier: driveRunTask, payload: job, jobKey: `run:${job.runId}`, maxAttempts: 5 })),
      );
      for (const { resolve } of asked) resolve();
    } catch (error) {
      for (const { reject } of asked) reject(error);
    }
  }

  /**
   * The drive job of a run as rows to commit in the transaction that records its start (the
   * recorder's commitWith): the job exists if and only if the start committed, so no crash between
   * the two loses a start, and a burst of starts adds its jobs in the start's one statement.
   */
  driveJobRows(job: DriveRunJob): { text: string; row: Record<string, unknown> } {
    return {
      text: `SELECT count(*) FROM ${quoteIdent(this.schema)}.add_jobs(array(SELECT json_populate_recordset(null::${quoteIdent(this.schema)}.job_spec, $1::json)), false)`,
      row: { identifier: driveRunTask, payload: job, job_key: `run:${job.runId}`, max_attempts: 5 },
    };
  }

  /**
   * Of `runIds`, those whose drive job waits in the queue, due and not taken: a free worker takes
   * it, so queuing the run again would only rewrite it. A supervisor skips them — without that,
   * every process re-added each run of a burst every second until a worker was free for it, and
   * those rewrites (a commit each) slowed the very starts they waited behind. A job that is taken,
   * given up, or waiting out a retry's backoff does not count: those runs are queued again.
   */
  async waitingDrives(runIds: readonly string[]): Promise<Set<string>> {
    if (runIds.length === 0) return new Set();
    const { rows } = await this.#utils.withPgClient((client) =>
      client.query<{ key: string }>(
        `SELECT key FROM ${quoteIdent(this.schema)}._private_jobs WHERE key = ANY($1::text[]) AND locked_at IS NULL AND attempts < max_attempts AND run_at <= now()`,
        [runIds.map((runId) => `run:${runId}`)],
      ),
    );
    return new Set(rows.map((row) => row.key.slice('run:'.length)));
  }

  /**
   * The SQL that queues a notification delivery, to run inside the transaction that writes the
   * notification (a transactional outbox: the delivery job commits if and only if the notification does).
   */
  deliveryJobSql() {
    return sql`SELECT ${sql.identifier(this.schema)}.add_job(${deliverNotificationsTask}, '{}'::json, job_key => 'notifications', job_key_mode => 'preserve_run_at', max_attempts => 3)`;
  }

  /** Queues a delivery of the notification outbox (a later retry, or one asked for by an operator). */
  async enqueueDelivery(options: { runAt?: Date } = {}): Promise<void> {
    await this.#utils.addJob(
      deliverNotificationsTask,
      {},
      { jobKey: 'notifications', jobKeyMode: 'preserve_run_at', maxAttempts: 3, ...(options.runAt ? { runAt: options.runAt } : {}) },
    );
  }

  /** Jobs waiting or running, by task (metrics, tests). */
  async pending(): Promise<Record<string, number>> {
    const { rows } = await this.#utils.withPgClient((client) =>
      client.query<{ task: string; count: string }>(
        `SELECT t.identifier AS task, count(*) AS count FROM ${quoteIdent(this.schema)}._private_jobs j JOIN ${quoteIdent(this.schema)}._private_tasks t ON t.id = j.task_id WHERE j.attempts < j.max_attempts GROUP BY t.identifier`,
      ),
    );
    return Object.fromEntries(rows.map((row) => [row.task, Number(row.count)]));
  }

  /** Starts taking jobs in this process. */
  async work(options: QueueWorkerOptions): Promise<QueueWorker> {
    const report = options.onJob ?? (() => undefined);
    const drive: Task = async (payload) => {
      const job = payload as DriveRunJob;
      if (typeof job?.runId !== 'string') {
        report({ task: driveRunTask, outcome: 'invalid' });
        return;
      }
      try {
        const result = await options.drive(job);
        report({
          task: driveRunTask,
          runId: job.runId,
          reason: job.reason,
          outcome: result.outcome === 'continued' ? result.result.status : result.outcome,
        });
      } catch (error) {
        const code = (error as { code?: string }).code;
        const details = (error as { details?: { handedBack?: boolean } }).details;
        // Handed back at a checkpoint by a graceful shutdown: the next free worker goes on at once.
        if (details?.handedBack) {
          await this.enqueueDrive({ runId: job.runId, reason: 'handed-back' }).catch(() => undefined);
          report({ task: driveRunTask, runId: job.runId, reason: job.reason, outcome: 'handed-back' });
          return;
        }
        // Another process owns the run now: nothing is left to do here.
        if (code === ErrorCode.LeaseLost) {
          report({ task: driveRunTask, runId: job.runId, reason: job.reason, outcome: 'lease-lost' });
          return;
        }
        report({ task: driveRunTask, runId: job.runId, reason: job.reason, outcome: 'error', error: errorText(error) });
        // The job is retried with backoff; the supervisor also requeues the run once its lease lapses.
        throw jobError(error);
      }
    };
    const deliver: Task = async () => {
      if (!options.deliverNotifications) return;
      try {
        await options.deliverNotifications();
      } catch (error) {
        throw jobError(error);
      }
      report({ task: deliverNotificationsTask, outcome: 'delivered' });
    };
    const concurrency = options.concurrency ?? 8;
    let pool: pg.Pool | undefined;
    let runner: Runner;
    try {
      pool = await this.#openWorkerPool(concurrency + 2);
      runner = await run({
        pgPool: pool,
        schema: this.schema,
        concurrency,
        // Jobs arrive by LISTEN/NOTIFY; polling only finds retries and jobs scheduled for later.
        pollInterval: 1_000,
        noHandleSignals: true,
        logger: this.#logger,
        taskList: { [driveRunTask]: drive, [deliverNotificationsTask]: deliver },
      });
    } catch (error) {
      await pool?.end().catch(() => undefined);
      throw new SystemError(
        ErrorCode.StoreUnavailable,
        `Cannot start taking jobs from the queue (schema ${this.schema}): ${(error as Error).message}.`,
        { cause: error },
      );
    }
    const opened = pool;
    const ended = runner.promise.finally(() => opened.end().catch(() => undefined));
    return {
      stop: async () => {
        await runner.stop();
        await ended.catch(() => undefined);
      },
      done: ended,
    };
  }

  /**
   * The connections a worker takes and completes jobs on, all opened now and kept open. The pool
   * graphile-worker would make for itself opens a connection on first demand and closes one idle
   * for 10 s (pg's default): so a burst of starts after a quiet spell, or the first one after a
   * deploy, started a Postgres backend per free job slot on every worker (15-21 ms of Postgres's
   * CPU each on the bench machine, against ~0.4 ms for taking a job), on the cores the API server
   * answering that burst needs.
   */
  async #openWorkerPool(connections: number): Promise<pg.Pool> {
    const pool = new pg.Pool({
      connectionString: this.#options.databaseUrl,
      max: connections,
      min: connections,
      // Names the queue's connections in pg_stat_activity (which schema's worker holds them).
      application_name: `aifactory worker ${this.schema}`.slice(0, 63),
    });
    // pg drops a connection that fails and raises the error on its next query; these only keep an
    // error event from ending the process (as graphile-worker's own handlers do).
    pool.on('error', (error) => this.#logger.error(`PostgreSQL idle client generated error: ${error.message}`, { error }));
    pool.on('connect', (client) =>
      client.on('error', (error) => this.#logger.error(`PostgreSQL active client generated error: ${error.message}`, { error })),
    );
    // All at once: pg opens a connection for each checkout while the pool has room.
    const opened = await Promise.allSettled(Array.from({ length: connections }, () => pool.connect()));
    for (const client of opened) if (client.status === 'fulfilled') client.value.release();
    const failed = opened.find((client) => client.status === 'rejected');
    if (failed) {
      await pool.end().catch(() => undefined);
      throw failed.reason;
    }
    return pool;
  }

  /** Releases the queue's connections (once the drives already asked for are added). */
  async close(): Promise<void> {
    await this.#adding;
    await Promise.resolve(this.#utils.release());
  }
}

/** graphile-worker's log lines, warnings and errors only, as JSON on stderr (or to `log`). */
function queueLogger(log: RunQueueOptions['log']): Logger {
  const write = log ?? ((line: Record<string, unknown>) => void process.stderr.write(`${JSON.stringify(line)}\n`));
  return new Logger(() => (level, message) => {
    if (level === 'error' || level === 'warning') write({ event: 'queue.log', level, message });
  });
}

/**
 * The error a failed job is recorded with. graphile-worker stores the message in its jobs table, and
 * a worker whose failure cannot be stored stops ("Could not failJobs; queue is in an inconsistent
 * state; aborting"): a message with a NUL byte (drizzle's "Failed query" lists the statement's
 * parameters, encrypted checkpoint bytes among them) is refused by Postgres (22P05). So the job
 * fails with text that can be stored: no parameters, no control characters, bounded (errorText).
 */
function jobError(error: unknown): Error {
  const failure = new Error(errorText(error, 1000), { cause: error });
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string') Object.assign(failure, { code });
  return failure;
}

/** A Postgres identifier, quoted (schema names are validated by the store, but quote anyway). */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
