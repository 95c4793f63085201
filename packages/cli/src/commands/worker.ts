// `factory worker`: a process that drives governed runs off the Postgres job queue. API servers
// (`factory serve --queue`) accept runs and stream them; workers start them, resume them once an
// approval is decided, recover those whose owner died, and deliver the notification outbox. Any
// number of workers and servers share one Postgres; each run is driven by one process at a time
// (its lease and fencing epoch), whichever worker is free.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action } from '../command-kit.ts';

interface WorkerOptions {
  concurrency: string;
  agents: string;
  shutdownTimeout: string;
  recoveryInterval: string;
  quiet?: boolean;
}

/** A whole number within bounds, naming the option on failure. */
function integerOption(value: string, option: string, min: number, max: number): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max)
    throw new UserError(ErrorCode.InputInvalid, `${option} '${value}' is invalid; give a whole number from ${min} to ${max}.`, {
      location: { path: option },
    });
  return number;
}

/** Registers `factory worker`. */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'Drive governed runs from the Postgres job queue: starts, resumes after approval, recovery of orphaned runs, notification delivery.',
    )
    .option('--concurrency <n>', 'runs driven at once by this process', '8')
    .option('--agents <dir>', 'agents folder (the same definitions the API servers use)', 'agents')
    .option(
      '--shutdown-timeout <ms>',
      'on SIGTERM, how long to wait for each run to reach its next checkpoint (a run still mid-step keeps its lease: never handed back mid-step)',
      '10000',
    )
    .option('--recovery-interval <ms>', 'how often to look for runs whose owner died or whose decided approval nobody applied', '1000')
    .option('--quiet', 'do not log each job (errors are still logged)')
    .addHelpText(
      'after',
      '\nNeeds DATABASE_URL (Postgres; AIFACTORY_DB_SCHEMA optional): the embedded store belongs to one process, so on it' +
        '\n`factory serve` drives its runs itself. Pair workers with `factory serve --queue`, which accepts and streams runs and' +
        '\nleaves driving them to workers. The queue (graphile-worker) lives in the schema <schema>_jobs (aifactory_jobs for public).' +
        '\nNotifications (Slack, e-mail, webhooks: notifications.yaml) are delivered by jobs the runs queue. Logs are JSON lines on stderr.' +
        '\nSIGTERM/SIGINT: no new jobs are taken; each run is stopped at its next step with a fresh checkpoint and handed back,' +
        '\nso another worker goes on with it at once. Exit codes: 2 bad options or no Postgres, 3 the store or queue is unavailable.' +
        '\nSee docs/deployment.md.',
    )
    .action(
      action(async (options: WorkerOptions) => {
        const concurrency = integerOption(options.concurrency, '--concurrency', 1, 256);
        const shutdownTimeoutMs = integerOption(options.shutdownTimeout, '--shutdown-timeout', 0, 3_600_000);
        const intervalMs = integerOption(options.recoveryInterval, '--recovery-interval', 50, 3_600_000);
        // Refuse before anything is opened: opening the embedded store would take its lock.
        if (!process.env.DATABASE_URL?.trim()) {
          throw new UserError(
            ErrorCode.InputInvalid,
            'factory worker needs a Postgres store: set DATABASE_URL. The embedded store (PGlite) is one process by design, so `factory serve` drives its runs itself; workers scale out on Postgres only.',
          );
        }
        const path = await import('node:path');
        const { openWorkspace, workspaceConfigFromEnv, openWorkspaceStore, RunQueue } = await import('@aifactory/workspace');
        const { workspaceNotificationDispatcher } = await import('@aifactory/workspace/config');
        const { RunSupervisor } = await import('@aifactory/execution');
        const log = (line: Record<string, unknown>) =>
          process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), pid: process.pid, ...line })}\n`);
        // graphile-worker 0.18 records a job's end (completeJob/failJob, unbatched) without handling
        // the promise: a Postgres restart under it (ECONNRESET) was an unhandled rejection, which ends
        // the process. Nothing is lost by going on — the job stays locked, and the supervisor queues
        // the run again once its lease lapses — so a lost connection is logged and the worker stays
        // up; any other unhandled rejection still ends the process as Node would.
        const { isConnectionLoss } = await import('@aifactory/store');
        process.on('unhandledRejection', (reason: unknown) => {
          if (!isConnectionLoss(reason)) throw reason;
          log({ event: 'queue.connection_lost', error: (reason as Error)?.message ?? String(reason) });
        });
        const config = workspaceConfigFromEnv(process.env, { agentsDir: path.resolve(options.agents) });
        // One connection per job it may drive, and one for the supervisor's reads, opened now: a
        // burst of starts then finds them open instead of starting backends while the API server
        // answers it.
        const store = await openWorkspaceStore(config, { openConnections: concurrency + 1 });
        let queue;
        try {
          queue = await RunQueue.forStore(store, { databaseUrl: config.store.databaseUrl, what: 'factory worker', log });
        } catch (error) {
          await store.close();
          throw error;
        }
        const workspace = await openWorkspace(config, { store, queue }).catch(async (error: unknown) => {
          await queue.close();
          await store.close();
          throw error;
        });
        // The outbox's delivery jobs: Slack, e-mail and webhooks as notifications.yaml configures them.
        const dispatcher = await workspaceNotificationDispatcher(store, config, {
          log: (line) => log({ event: 'notification.log', line }),
          onError: (error) => log({ event: 'notifications.error', error: (error as Error).message }),
        }).catch((error: unknown) => {
          log({ event: 'notifications.unavailable', error: (error as Error).message });
          return undefined;
        });
        const worker = await queue
          .work({
            concurrency,
            drive: (job) => workspace.runtime.drive(job.runId, job.approvalId ? { approvalId: job.approvalId } : {}),
            ...(dispatcher
              ? {
                  deliverNotifications: async () => {
                    await dispatcher.drainOnce();
                    // Deliveries that failed are retried after their backoff: queue the next round for then.
                    await queue.enqueueDelivery({ runAt: new Date(Date.now() + 1_000) }).catch(() => undefined);
                  },
                }
              : {}),
            onJob: (report) => {
              if (!options.quiet || report.outcome === 'error') log({ event: 'job', ...report });
            },
          })
          .catch(async (error: unknown) => {
            await workspace.close();
            await queue.close();
            await store.close();
            throw error;
          });
        const supervisor = new RunSupervisor({
          store,
          runtime: workspace.runtime,
          intervalMs,
          dispatch: (runId, reason) => queue.enqueueDrive({ runId, reason }),
          waiting: (runIds) => queue.waitingDrives(runIds),
        });
        supervisor.start();
        // Workers are often killed rather than stopped (deploys, crashes): write Node's compile cache
        // now, not only at a clean exit, so the next worker's start reads it.
        (await import('node:module')).flushCompileCache?.();
        process.stderr.write(
          `${pc.green('worker')} ready: pid ${process.pid}, concurrency ${concurrency}, queue ${queue.schema}, lease ${workspace.runtime.ownership.ttlMs} ms\n`,
        );
        const signal = await new Promise<string>((resolve) => {
          process.once('SIGINT', () => resolve('SIGINT'));
          process.once('SIGTERM', () => resolve('SIGTERM'));
          void worker.done.then(
            () => resolve('queue stopped'),
            (error: unknown) => {
              log({ event: 'worker.failed', error: (error as Error).message });
              resolve('queue failed');
            },
          );
        });
        process.stderr.write(`${signal}: stopping; runs in flight are handed back at their next checkpoint\n`);
        supervisor.stop();
        // Take no new job, stop each run at its next step with a fresh checkpoint, release its lease.
        const stopping = worker.stop().catch(() => undefined);
        const handedBack = await workspace.runtime.drain(shutdownTimeoutMs);
        await stopping;
        await workspace.close();
        await queue.close();
        await store.close();
        log({ event: 'worker.stopped', handedBack });
        process.stderr.write(`stopped (${handedBack.length} run(s) handed back)\n`);
      }),
    );
}
