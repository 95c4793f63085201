// `factory runs`: list and show recorded runs, verify them (in the store or an export file),
// export them (JSONL for offline verification, OTLP JSON for observability tools), erase a data
// subject's payloads, seal a run a crash left unsealed, and print the seal key for auditors.
// Listing, verifying and exporting stream: memory stays flat however large the store.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import {
  createRecorder,
  exportJsonl,
  decodeRunCursor,
  exportOtlp,
  listRuns,
  listRunsPage,
  loadAtRestCipher,
  publicKeyPem,
  readPublicKeyFile,
  openWitness,
  readRunEvents,
  verifyAll,
  verifyExportFile,
  verifyRun,
  type RunFilter,
  type RunPage,
  type RunSummary,
  type SealSigner,
  type StoredEvent,
  type TailCheck,
  type VerificationProblem,
  type VerificationReport,
  type VerificationSummary,
} from '@aifactory/verification';
import { Option, type Command } from 'commander';
import pc from 'picocolors';
import { parseTime } from './time-options.ts';
import { ExitCode, action, emit, withJson, type CommonOptions } from '../command-kit.ts';
import { resolveConnection, ServerClient, viaServerOrStore, type ServerConnection } from '../connection.ts';
import { findWorkspaceSigner, openWorkspaceStore, workspaceDataDir, workspaceSigner, workspaceWitness } from '@aifactory/workspace/config';

/** What the runs commands take from whoever wires the CLI (tests pass their own store). */
export interface RunsCommandOptions {
  /** Opens the store (default: the workspace store from the environment). */
  openStore?: () => Promise<Store>;
  /** The seal signer whose key verification pins and export signs with (default: the workspace key, if it exists). */
  signer?: () => Promise<SealSigner | undefined>;
}

interface FilterOptions extends CommonOptions {
  agent?: string;
  team?: string;
  principal?: string;
  status?: string;
  since?: string;
  until?: string;
  authority?: string;
  limit?: string;
}

interface VerifyOptions extends CommonOptions {
  all?: boolean;
  file?: string;
  key?: string[];
  witness?: string;
}

interface ExportOptions extends FilterOptions {
  all?: boolean;
  format: 'jsonl' | 'otlp';
  output?: string;
}

interface EraseOptions extends CommonOptions {
  subject?: string;
  seq?: string[];
  allRuns?: boolean;
}

/** Registers the `factory runs` commands and returns the `runs` command so other planes can add subcommands. */
export function registerRunsCommands(program: Command, options: RunsCommandOptions = {}): Command {
  const runs = program
    .command('runs')
    .description('List, show, verify, export and erase recorded runs.')
    .addHelpText(
      'after',
      '\nEvery run is an append-only, hash-chained log of events, sealed with an Ed25519 signature when it ends.\nVerification recomputes every hash and signature; `factory runs key` prints the key auditors pin.',
    );

  const openStore = options.openStore ?? (() => openWorkspaceStore());
  const signer = options.signer ?? (() => findWorkspaceSigner());
  async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
    const store = await openStore();
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }

  withJson(
    addFilters(runs.command('list').description('List runs, newest first, a page at a time, with their status, event count and seal.'))
      .option(
        '--feedback <sentiment>',
        'only runs that received feedback of this sentiment: positive, neutral, negative or any (see factory feedback)',
      )
      .option('--cursor <cursor>', 'continue after the previous page (its nextCursor)')
      .addHelpText(
        'after',
        '\nA page holds --limit runs (default 100); --json prints {"runs": [...], "nextCursor": "..."}, and the text\nnames the command for the next page. Runs started meanwhile never shift the pages.',
      ),
  ).action(
    action(async (listOptions: FilterOptions & { feedback?: string; cursor?: string }) => {
      const filter = parseFilter(listOptions);
      const limit = filter.limit ?? 100;
      // Feedback is kept in sealed feedback records beside the runs (@aifactory/quality); --feedback narrows to the runs they name.
      const judged =
        listOptions.feedback === undefined ? undefined : await (await import('./feedback.ts')).runsWithFeedback(listOptions.feedback);
      if (judged) filter.runIds = [...judged];
      const only = (page: RunPage): RunPage =>
        judged ? { runs: page.runs.filter((run) => judged.has(run.id)), nextCursor: page.nextCursor } : page;
      await viaServerOrStore({
        server: async (connection) => printRuns(only(await serverRuns(connection, filter, limit, listOptions.cursor))),
        store: () =>
          withStore(async (store) =>
            printRuns(
              only(
                await listRunsPage(store, {
                  ...filter,
                  limit,
                  ...(listOptions.cursor ? { after: decodeRunCursor(listOptions.cursor) } : {}),
                }),
              ),
            ),
          ),
      });

      /** Prints a page of runs as a table or JSON, from the store or a server. */
      function printRuns(page: RunPage): void {
        if (listOptions.json) {
          process.stdout.write(
            `{"runs":[${page.runs.map((run) => `\n  ${JSON.stringify(run)}`).join(',')}${page.runs.length > 0 ? '\n' : ''}],"nextCursor":${JSON.stringify(page.nextCursor)}}\n`,
          );
          return;
        }
        if (page.runs.length === 0) {
          process.stdout.write('No runs match.\n');
          return;
        }
        // The first rows size the columns (padded before colouring, so they line up piped or not).
        const table = createRunTable();
        for (const run of page.runs) table.add(run);
        table.end();
        if (page.nextCursor)
          process.stdout.write(
            pc.dim(
              `More runs: factory runs list --cursor ${page.nextCursor}${filter.limit ? ` --limit ${filter.limit}` : ''} (with the same filters)\n`,
            ),
          );
      }
    }),
  );

  withJson(runs.command('show').description('Show a run as a readable timeline of its events.').argument('<run>', 'run id')).action(
    action(async (runId: string, showOptions: CommonOptions) => {
      await viaServerOrStore({
        server: (connection) => showThroughServer(connection, runId, showOptions),
        store: () => showOnStore(runId, showOptions),
      });
    }),
  );

  /** `runs show` on the store. */
  async function showOnStore(runId: string, showOptions: CommonOptions): Promise<void> {
    await withStore(async (store) => {
      const found = [];
      for await (const run of listRuns(store, { runIds: [runId] })) found.push(run);
      const run = found[0];
      if (!run) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist; run 'factory runs list' to see the runs.`);
      if (showOptions.json) {
        const events = [];
        for await (const event of readRunEvents(store, runId)) events.push(eventJson(event));
        emit(showOptions, { run, events }, () => '');
        return;
      }
      process.stdout.write(
        `${pc.bold(run.id)}  ${colourStatus(run.status)}  agent ${run.agent}${run.team ? ` (team ${run.team})` : ''}, principal ${run.principal}\n` +
          `started ${run.startedAt.toISOString()}${run.endedAt ? `, ended ${run.endedAt.toISOString()}` : ''}, ${run.events} events, ${run.sealed ? pc.green('sealed') : pc.yellow('not sealed')}` +
          `${run.parentRunId ? `, handed off from ${run.parentRunId}` : ''}${run.replayOf ? `, replay of ${run.replayOf}` : ''}\n\n`,
      );
      const startedAt = run.startedAt.getTime();
      for await (const event of readRunEvents(store, runId)) {
        const offset = `+${((event.ts.getTime() - startedAt) / 1000).toFixed(3)}s`;
        process.stdout.write(
          `${pc.dim(`#${String(event.seq).padStart(3)}`)} ${pc.dim(offset.padStart(10))}  ${colourType(event.type).padEnd(30)} ${event.actor.padEnd(16)} ${summarize(event)}\n`,
        );
      }
    });
  }

  /** `runs show` through a server: GET /v1/runs/:id (its first 5000 events). */
  async function showThroughServer(connection: ServerConnection, runId: string, showOptions: CommonOptions): Promise<void> {
    const answer = await new ServerClient(connection).request<{
      run: Record<string, unknown>;
      summary?: RunSummary;
      events: Array<{ seq: number; ts: string; type: string; actor: string; payload: unknown; erased: boolean; hash: string }>;
    }>('GET', `/v1/runs/${encodeURIComponent(runId)}`);
    const run = answer.summary
      ? {
          ...answer.summary,
          startedAt: new Date(answer.summary.startedAt),
          endedAt: answer.summary.endedAt === null ? null : new Date(answer.summary.endedAt),
        }
      : undefined;
    if (!run) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist; run 'factory runs list' to see the runs.`);
    if (showOptions.json) {
      emit(
        showOptions,
        {
          run,
          events: answer.events.map((event) => ({
            seq: event.seq,
            ts: event.ts,
            type: event.type,
            actor: event.actor,
            payload: event.payload,
            erased: event.erased,
            hash: event.hash,
          })),
        },
        () => '',
      );
      return;
    }
    process.stdout.write(
      `${pc.bold(run.id)}  ${colourStatus(run.status)}  agent ${run.agent}${run.team ? ` (team ${run.team})` : ''}, principal ${run.principal}\n` +
        `started ${run.startedAt.toISOString()}${run.endedAt ? `, ended ${run.endedAt.toISOString()}` : ''}, ${run.events} events, ${run.sealed ? pc.green('sealed') : pc.yellow('not sealed')}` +
        `${run.parentRunId ? `, handed off from ${run.parentRunId}` : ''}${run.replayOf ? `, replay of ${run.replayOf}` : ''}  ${pc.dim(`(through ${connection.url})`)}\n\n`,
    );
    const startedAt = run.startedAt.getTime();
    for (const raw of answer.events) {
      const event = {
        seq: raw.seq,
        ts: new Date(raw.ts),
        type: raw.type,
        actor: raw.actor,
        payloadText: raw.erased || raw.payload === null ? null : JSON.stringify(raw.payload),
      } as StoredEvent;
      const offset = `+${((event.ts.getTime() - startedAt) / 1000).toFixed(3)}s`;
      process.stdout.write(
        `${pc.dim(`#${String(event.seq).padStart(3)}`)} ${pc.dim(offset.padStart(10))}  ${colourType(event.type).padEnd(30)} ${event.actor.padEnd(16)} ${summarize(event)}\n`,
      );
    }
  }

  withJson(
    runs
      .command('verify')
      .description('Recompute every hash and signature; report the first broken event; exit 1 on any failure.')
      .argument('[run]', 'a run id (or --all)')
      .option('--all', 'verify every run and the seal chain')
      .option('--file <export.jsonl>', 'verify an export file offline, without the store')
      .option('--key <pem...>', 'trust only these seal keys (PEM public or private key files); default: the workspace key')
      .option(
        '--witness <dir|url>',
        'check the seal chain against the checkpoints a witness keeps outside the database (default: AIFACTORY_WITNESS)',
      ),
  ).action(
    action(async (runId: string | undefined, verifyOptions: VerifyOptions) => {
      const keys = await Promise.all((verifyOptions.key ?? []).map((file) => readPublicKeyFile(file)));
      const witnessTarget = verifyOptions.witness ?? process.env.AIFACTORY_WITNESS;
      const witness = witnessTarget
        ? openWitness(witnessTarget, process.env.AIFACTORY_WITNESS_TOKEN ? { token: process.env.AIFACTORY_WITNESS_TOKEN } : {})
        : undefined;
      if (verifyOptions.file) {
        if (runId || verifyOptions.all)
          throw new UserError(ErrorCode.InputInvalid, '--file verifies the whole export; give no run id and no --all with it.');
        const summary = await verifyExportFile(verifyOptions.file, {
          ...(keys.length > 0 ? { trustedKeys: keys } : {}),
          ...(witness ? { witness } : {}),
        });
        emit(verifyOptions, summary, (value) => renderSummary(value, `export ${verifyOptions.file}`));
        return summary.ok ? ExitCode.Ok : ExitCode.CheckFailed;
      }
      if (!runId && !verifyOptions.all) throw new UserError(ErrorCode.InputInvalid, 'Give a run id, --all, or --file <export.jsonl>.');
      if (runId && verifyOptions.all) throw new UserError(ErrorCode.InputInvalid, 'Give either a run id or --all, not both.');
      const connection = resolveConnection();
      if (connection.kind === 'server') {
        // The server verifies against its own seal key; pinning other keys or a witness needs the store (or an export: --file).
        if (keys.length > 0 || verifyOptions.witness) {
          throw new UserError(
            ErrorCode.InputInvalid,
            `--key and --witness cannot be applied through ${connection.url}: the server verifies against its own seal key. Export the runs (factory runs export) and verify the file with --file, or run this where the store is.`,
          );
        }
        const client = new ServerClient(connection);
        if (runId) {
          const { report } = await client.request<{ report: VerificationReport }>('POST', `/v1/runs/${encodeURIComponent(runId)}/verify`);
          emit(verifyOptions, report, (value) => renderReport(value));
          return report.ok ? ExitCode.Ok : ExitCode.CheckFailed;
        }
        const { summary } = await client.request<{ summary: VerificationSummary }>('POST', '/v1/runs/verify');
        emit(verifyOptions, summary, (value) => renderSummary(value, connection.url));
        return summary.ok ? ExitCode.Ok : ExitCode.CheckFailed;
      }
      const local = await signer();
      // The workspace key's anchor is checked even when other keys are pinned (its key is then not trusted for that).
      const trust = {
        ...(keys.length > 0 ? { trustedKeys: keys } : {}),
        ...(local && keys.length === 0 ? { signers: [local] } : {}),
        ...(local && keys.length > 0 ? { anchorSigners: [local] } : {}),
        ...(witness ? { witness } : {}),
      };
      return withStore(async (store) => {
        if (runId) {
          const report = await verifyRun(store, runId, trust);
          emit(verifyOptions, report, (value) => renderReport(value));
          return report.ok ? ExitCode.Ok : ExitCode.CheckFailed;
        }
        const summary = await verifyAll(store, trust);
        emit(verifyOptions, summary, (value) => renderSummary(value, store.location));
        return summary.ok ? ExitCode.Ok : ExitCode.CheckFailed;
      });
    }),
  );

  addFilters(
    withJson(runs.command('export'))
      .description(
        'Export runs as JSONL (verifiable offline with `runs verify --file`) or as OTLP JSON spans (GenAI semantic conventions).',
      )
      .argument('[run]', 'a run id; or select runs with --all or the filters')
      .option('--all', 'export every run (the file then proves the seal chain is complete)')
      .addOption(new Option('--format <format>', 'jsonl or otlp').choices(['jsonl', 'otlp']).default('jsonl'))
      .option('--output <file>', 'write to this file instead of stdout')
      .addHelpText(
        'after',
        '\nThe export is JSON lines already. With --output and --json, a JSON summary is printed on stdout instead of the sentence on stderr: {output, format, lines, signed}.',
      ),
  ).action(
    action(async (runId: string | undefined, exportOptions: ExportOptions) => {
      const filter = parseFilter(exportOptions);
      const filtered = Object.keys(filter).length > 0;
      if (!runId && !exportOptions.all && !filtered)
        throw new UserError(ErrorCode.InputInvalid, 'Give a run id, --all, or a filter such as --since 24h.');
      if (runId && (exportOptions.all || filtered))
        throw new UserError(ErrorCode.InputInvalid, 'Give either a run id or --all/filters, not both.');
      const selection: RunFilter = runId ? { runIds: [runId] } : filter;
      const local = await signer();
      await withStore(async (store) => {
        if (runId) {
          const found = await listRuns(store, { runIds: [runId] }).next();
          if (found.done) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist.`);
        }
        const lines =
          exportOptions.format === 'otlp' ? exportOtlp(store, selection) : exportJsonl(store, selection, local ? { signer: local } : {});
        const output = exportOptions.output ? createWriteStream(exportOptions.output) : process.stdout;
        const written = await writeLines(lines, output);
        if (exportOptions.output) {
          output.end();
          await once(output, 'finish');
          if (exportOptions.json)
            process.stdout.write(
              `${JSON.stringify({ output: exportOptions.output, format: exportOptions.format, lines: written, signed: exportOptions.format === 'jsonl' ? Boolean(local) : null })}\n`,
            );
          else
            process.stderr.write(
              `Exported ${written} lines (${exportOptions.format}) to ${exportOptions.output}.${!local && exportOptions.format === 'jsonl' ? ' No seal key here: the trailer is unsigned.' : ''}\n`,
            );
        }
      });
    }),
  );

  withJson(
    runs
      .command('erase')
      .description(
        "Erase payloads (a data subject's, or a run's) while the chain still verifies: each leaves a tombstone. The subject is also erased from checkpoints, approvals and notifications.",
      )
      .argument('[run]', 'the run whose payloads to erase (all of them unless --seq or --subject narrow it)')
      .option('--subject <value>', 'only payloads containing this value (an email, a customer id, a redaction placeholder)')
      .option('--seq <n...>', 'only these events of the run')
      .option('--all-runs', 'with --subject: search every run'),
  ).action(
    action(async (runId: string | undefined, eraseOptions: EraseOptions) => {
      if (!runId && !eraseOptions.allRuns) throw new UserError(ErrorCode.InputInvalid, 'Give a run id, or --all-runs with --subject.');
      if (eraseOptions.allRuns && !eraseOptions.subject)
        throw new UserError(ErrorCode.InputInvalid, '--all-runs needs --subject: erasing every payload in the store is not offered.');
      const seqs = (eraseOptions.seq ?? []).map((value) => {
        const seq = Number(value);
        if (!Number.isInteger(seq) || seq < 1) throw new UserError(ErrorCode.InputInvalid, `--seq '${value}' is not a positive integer.`);
        return seq;
      });
      const cipher = await loadAtRestCipher(workspaceDataDir());
      // The execution plane (LangGraph and all) loads only for erasure, not for every `runs` command.
      const { eraseRunData } = await import('@aifactory/execution');
      const result = await withStore((store) =>
        eraseRunData(
          store,
          {
            ...(runId ? { runId } : {}),
            ...(seqs.length > 0 ? { seqs } : {}),
            ...(eraseOptions.subject !== undefined ? { subject: eraseOptions.subject } : {}),
          },
          { cipher },
        ),
      );
      emit(eraseOptions, { ok: true, ...result }, (value) => {
        const beyond = [
          value.checkpointValuesRewritten > 0 ? `${value.checkpointValuesRewritten} checkpoint value(s) rewritten without it` : '',
          value.checkpointsDeleted.length > 0 ? `checkpoints of ${value.checkpointsDeleted.join(', ')} deleted` : '',
          value.checkpointsKept.length > 0 ? `checkpoints of ${value.checkpointsKept.join(', ')} kept (the run can still resume)` : '',
          value.approvals > 0 ? `${value.approvals} approval(s)` : '',
          value.notifications > 0 ? `${value.notifications} notification(s)` : '',
        ].filter(Boolean);
        const trace =
          value.erased.length === 0
            ? 'No matching trace payload (or already erased).'
            : `Erased ${value.erased.length} payload(s): ${value.erased.map((event) => `${event.runId}#${event.seq} ${event.type}`).join(', ')}.\nThe chain still verifies; 'factory runs verify' reports them as erased.`;
        return beyond.length > 0 ? `${trace}\nAlso erased: ${beyond.join('; ')}.` : trace;
      });
    }),
  );

  withJson(
    runs
      .command('seal')
      .description(
        'Seal a run that ended but was not sealed (its process stopped in between); refused, exit 1, unless its chain verifies and a recorder with this key started it.',
      )
      .argument('<run>', 'run id'),
  ).action(
    action(async (runId: string, sealOptions: CommonOptions) => {
      const sealer = (await signer()) ?? (await workspaceSigner());
      const witness = workspaceWitness();
      let seal;
      try {
        seal = await withStore((store) => createRecorder(store, { signer: sealer, ...(witness ? { witness } : {}) }).sealRun(runId));
      } catch (error) {
        if (error instanceof UserError && error.code === ErrorCode.VerificationFailed) {
          emit(
            sealOptions,
            { ok: false, error: { code: error.code, message: error.message } },
            (value) => `${pc.red('✗')} ${value.error.message}`,
          );
          return ExitCode.CheckFailed;
        }
        throw error;
      }
      emit(
        sealOptions,
        { ok: true, seal },
        (value) => `Sealed ${runId} at seq ${value.seal.headSeq} (seal ${value.seal.seq}, key ${value.seal.keyId}).`,
      );
      return ExitCode.Ok;
    }),
  );

  withJson(runs.command('key').description('Print the seal public key and its key id, for auditors to pin (`runs verify --key`).')).action(
    action(async (keyOptions: CommonOptions) => {
      const local = await signer();
      if (!local)
        throw new UserError(ErrorCode.NotFound, 'This workspace has no seal key yet; it is created when the first run is recorded.');
      emit(
        keyOptions,
        { keyId: local.keyId, publicKey: local.publicKey, pem: publicKeyPem(local.publicKey) },
        (value) => `# ${value.keyId}\n${value.pem}`,
      );
    }),
  );

  return runs;
}

/** Runs the server lists; it filters by agent and status only, so other filters are refused rather than ignored. */
async function serverRuns(connection: ServerConnection, filter: RunFilter, limit: number, cursor: string | undefined): Promise<RunPage> {
  const unsupported = (['team', 'principal', 'authority', 'runIds'] as const).filter((key) => filter[key] !== undefined);
  if (unsupported.length > 0) {
    throw new UserError(
      ErrorCode.InputInvalid,
      `${unsupported.map((key) => `--${key}`).join(', ')} cannot be applied through ${connection.url}: the server filters runs by --agent, --status, --since, --until, --cursor and --limit only.`,
    );
  }
  const query = new URLSearchParams({
    ...(filter.agent ? { agent: filter.agent } : {}),
    ...(filter.status ? { status: filter.status } : {}),
    ...(filter.since ? { since: filter.since.toISOString() } : {}),
    ...(filter.until ? { until: filter.until.toISOString() } : {}),
    ...(cursor ? { cursor } : {}),
    limit: String(limit),
  }).toString();
  const answer = await new ServerClient(connection).request<{ runs: RunSummary[]; nextCursor: string | null }>('GET', `/v1/runs?${query}`);
  return {
    runs: answer.runs.map((run) => ({
      ...run,
      startedAt: new Date(run.startedAt),
      endedAt: run.endedAt === null ? null : new Date(run.endedAt),
    })),
    nextCursor: answer.nextCursor,
  };
}

function addFilters(command: Command): Command {
  return command
    .option('--agent <name>', 'only runs of this agent')
    .option('--team <name>', 'only runs of this team')
    .option('--principal <id>', 'only runs started by this principal')
    .option(
      '--status <status>',
      'running (a live owner drives it), queued (no process has taken it yet, or it was handed back), orphaned (its owner died), recovering, held, completed or failed',
    )
    .option('--since <time>', 'started at or after: an ISO time, or a duration ago such as 30m, 24h, 7d')
    .option('--until <time>', 'started before: an ISO time, or a duration ago')
    .option('--authority <authority>', 'runs with a policy decision of this authority: autonomous, notify_human, require_approval, deny')
    .option('--limit <n>', 'at most n runs');
}

/** Turns filter options into a RunFilter; bad values name the option. */
export function parseFilter(options: FilterOptions, now = new Date()): RunFilter {
  const filter: RunFilter = {};
  if (options.agent) filter.agent = options.agent;
  if (options.team) filter.team = options.team;
  if (options.principal) filter.principal = options.principal;
  if (options.status) filter.status = options.status;
  if (options.authority) filter.authority = options.authority;
  if (options.since) filter.since = parseTime(options.since, '--since', now);
  if (options.until) filter.until = parseTime(options.until, '--until', now);
  if (options.limit !== undefined) {
    const limit = Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new UserError(ErrorCode.InputInvalid, `--limit '${options.limit}' is not a positive integer.`);
    filter.limit = limit;
  }
  return filter;
}

/** Writes lines with backpressure; returns how many were written. */
async function writeLines(lines: AsyncIterable<string>, output: Writable): Promise<number> {
  let count = 0;
  for await (const line of lines) {
    count += 1;
    if (!output.write(line)) await once(output, 'drain');
  }
  return count;
}

function eventJson(event: StoredEvent): Record<string, unknown> {
  return {
    seq: event.seq,
    ts: event.ts.toISOString(),
    type: event.type,
    actor: event.actor,
    payload: event.payloadText === null ? null : (JSON.parse(event.payloadText) as unknown),
    erased: event.erasedAt !== null,
    redactions: event.redactions ?? [],
    hash: event.hash,
  };
}

/** One line saying what an event means, from its payload. */
function summarize(event: StoredEvent): string {
  if (event.payloadText === null) return pc.dim('(payload erased)');
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(event.payloadText) as Record<string, unknown>;
  } catch {
    return pc.red('(unreadable payload)');
  }
  const short = (value: unknown, length = 60) => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return text === undefined ? '' : text.length > length ? `${text.slice(0, length - 1)}…` : text;
  };
  const redacted =
    event.redactions && event.redactions.length > 0
      ? pc.yellow(` [redacted: ${event.redactions.map((note) => `${note.path} ${note.kind}`).join(', ')}]`)
      : '';
  const usage = (payload.usage ?? {}) as Record<string, number | undefined>;
  const decision = (payload.decision ?? {}) as { authority?: string; rules?: Array<{ ruleId?: string; policy?: string }>; reason?: string };
  const action = (payload.action ?? {}) as { kind?: string; name?: string };
  let text: string;
  switch (event.type) {
    case 'run.started':
      text = `${String(payload.agent)} for ${String(payload.principal)}${payload.input !== undefined ? `: ${short(payload.input)}` : ''}`;
      break;
    case 'run.completed':
      text = payload.answer !== undefined ? short(payload.answer) : 'completed';
      break;
    case 'run.failed':
      text = pc.red(short(payload.error ?? 'failed'));
      break;
    case 'policy.decided':
      text = `${action.kind ?? ''} ${action.name ?? ''} → ${colourAuthority(decision.authority ?? '?')}${decision.rules && decision.rules.length > 0 ? ` (${decision.rules.map((rule) => (rule.policy ? `${rule.policy}/${rule.ruleId}` : short(rule, 30))).join(', ')})` : ''}`;
      break;
    case 'model.requested':
      text = `${String(payload.provider ?? '')} ${String(payload.model ?? '')}`.trim();
      break;
    case 'model.responded':
      text = `${String(payload.model ?? '')} ${usage.inputTokens ?? usage.input_tokens ?? '?'} in / ${usage.outputTokens ?? usage.output_tokens ?? '?'} out tokens${typeof payload.cost_usd === 'number' ? `, $${payload.cost_usd.toFixed(4)}` : ''}`;
      break;
    case 'tool.called':
    case 'handoff.started':
      text = `${String(payload.name)} ${short(payload.args ?? {})}`;
      break;
    case 'tool.returned':
      text = `${String(payload.name)} → ${short(payload.content ?? 'ok')}`;
      break;
    case 'tool.failed':
    case 'model.failed':
      text = pc.red(`${payload.name ? `${String(payload.name)}: ` : ''}${short(payload.error)}`);
      break;
    case 'retrieval.performed':
      text = `${Array.isArray(payload.chunks) ? payload.chunks.length : 0} chunk(s)${payload.query ? ` for ${short(payload.query, 40)}` : ''}`;
      break;
    case 'answer.given':
      text = short(payload.text);
      break;
    case 'budget.exceeded':
      text = pc.red(`${String(payload.limit)} reached ${String(payload.value)} (max ${String(payload.max)})`);
      break;
    default:
      text = short(Object.fromEntries(Object.entries(payload).filter(([key]) => key !== 'step')));
  }
  const step = typeof payload.step === 'number' ? pc.dim(`step ${payload.step} `) : '';
  return `${step}${text}${redacted}`;
}

function describeProblem(problem: VerificationProblem): string {
  const where = [problem.runId ? `run ${problem.runId}` : undefined, problem.seq !== undefined ? `seq ${problem.seq}` : undefined]
    .filter(Boolean)
    .join(', ');
  const lines = [`${pc.red('broken')}${where ? ` at ${where}` : ''} (${problem.kind}): ${problem.message}`];
  if (problem.expected !== undefined) lines.push(`  expected ${problem.expected}`);
  if (problem.actual !== undefined) lines.push(`  found    ${problem.actual}`);
  return lines.join('\n');
}

function renderReport(report: VerificationReport & { tail?: TailCheck }): string {
  if (!report.ok) return `${pc.red('✗')} run ${report.runId}: ${describeProblem(report.problem!)}`;
  const lines = [
    `${pc.green('✓')} run ${report.runId}: intact, ${report.events} events${report.erased > 0 ? ` with ${report.erased} erased payload(s)` : ''}, ${report.sealed ? `sealed by ${report.keyId}` : pc.yellow(`not sealed${report.coveredSeq ? ` (checkpoint-sealed up to seq ${report.coveredSeq})` : ''}`)}`,
  ];
  if (report.tail) lines.push(`${report.tail.checkedBy === 'witness' ? pc.green('tail') : pc.yellow('tail')}: ${report.tail.message}`);
  for (const warning of report.warnings) lines.push(`${pc.yellow('warning')}: ${warning}`);
  return lines.join('\n');
}

function renderSummary(summary: VerificationSummary, where: string): string {
  const lines: string[] = [];
  if (summary.ok) {
    lines.push(
      `${pc.green('✓')} ${where}: ${summary.runs} run(s), ${summary.events} events intact${summary.erased > 0 ? ` with ${summary.erased} erased payload(s)` : ''}; ${summary.sealed} sealed, seal chain of ${summary.sealChain.seals} intact.`,
    );
  } else {
    lines.push(
      `${pc.red('✗')} ${where}: ${summary.failed} of ${summary.runs} run(s) failed verification${summary.sealChain.ok ? '' : ', and the seal chain is broken'}.`,
    );
    if (summary.problem) lines.push(describeProblem(summary.problem));
    for (const failure of summary.failures.slice(0, 10))
      if (failure.problem !== summary.problem) lines.push(describeProblem(failure.problem!));
    if (summary.sealChain.problem && summary.sealChain.problem !== summary.problem) lines.push(describeProblem(summary.sealChain.problem));
  }
  if (!summary.pinned)
    lines.push(
      `${pc.yellow('warning')}: seal keys were not pinned; compare ${summary.sealChain.keyIds.join(', ') || 'the key ids'} with the key your organisation published, or pass --key.`,
    );
  if (summary.tail.message)
    lines.push(`${summary.tail.checkedBy === 'witness' ? pc.green('tail') : pc.yellow('tail')}: ${summary.tail.message}`);
  for (const warning of summary.warnings.slice(0, 10)) lines.push(`${pc.yellow('warning')}: ${warning}`);
  return lines.join('\n');
}

function colourStatus(status: string): string {
  if (status === 'completed') return pc.green(status);
  if (status === 'failed') return pc.red(status);
  if (status === 'held') return pc.yellow(status);
  return pc.cyan(status);
}

function colourAuthority(authority: string): string {
  if (authority === 'deny') return pc.red(authority);
  if (authority === 'require_approval') return pc.yellow(authority);
  if (authority === 'notify_human') return pc.cyan(authority);
  return pc.green(authority);
}

function colourType(type: string): string {
  if (type.endsWith('.failed') || type === 'budget.exceeded' || type === 'approval.rejected') return pc.red(type);
  if (type.startsWith('approval.') || type === 'run.held') return pc.yellow(type);
  return type;
}

/** The `runs list` table: columns sized by the first 500 rows, padded before they are coloured. */
function createRunTable(): { add(run: RunSummary): void; end(): void } {
  const header = ['RUN', 'AGENT', 'STATUS', 'EVENTS', 'SEALED', 'STARTED', 'PRINCIPAL'];
  const cells = (run: RunSummary) => [
    run.id,
    run.agent,
    run.status,
    String(run.events),
    run.sealed ? 'sealed' : 'open',
    run.startedAt.toISOString(),
    run.principal,
  ];
  const held: RunSummary[] = [];
  let widths: number[] | undefined;
  const line = (values: string[], colour: (value: string, column: number) => string) =>
    values
      .map((value, column) =>
        colour(
          column === values.length - 1 ? value : column === 3 ? value.padStart(widths![column]!) : value.padEnd(widths![column]!),
          column,
        ),
      )
      .join('  ');
  const colourCell = (run: RunSummary) => (value: string, column: number) =>
    column === 0
      ? pc.bold(value)
      : column === 2
        ? value.replace(run.status, colourStatus(run.status))
        : column === 4
          ? run.sealed
            ? pc.green(value)
            : pc.dim(value)
          : value;
  const write = (run: RunSummary) => process.stdout.write(`${line(cells(run), colourCell(run))}\n`);
  const flush = () => {
    widths = header.map((title, column) => Math.max(title.length, ...held.map((run) => cells(run)[column]!.length)));
    process.stdout.write(`${pc.dim(line(header, (value) => value))}\n`);
    for (const run of held.splice(0)) write(run);
  };
  return {
    add(run) {
      if (widths) {
        write(run);
        return;
      }
      held.push(run);
      if (held.length >= 500) flush();
    },
    end() {
      if (!widths) flush();
    },
  };
}
