// `factory feedback give|list|export`: give feedback on a run (a sealed feedback record bound to
// the run's head), search it, and turn corrections into evaluation cases.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import type { FeedbackFilter, FeedbackRecord, Sentiment } from '@aifactory/quality';
import type { Store } from '@aifactory/store';
import type { Command } from 'commander';
import { action, emit, withJson, type CommonOptions } from '../command-kit.ts';
import { actingAs, ServerClient, viaServerOrStore } from '../connection.ts';

interface GiveOptions extends CommonOptions {
  score: string;
  comment?: string;
  correction?: string;
  as: string;
}

interface ListOptions extends CommonOptions {
  run?: string;
  agent?: string;
  sentiment?: string;
  corrections?: boolean;
  limit: string;
}

interface ExportOptions extends ListOptions {
  toSuite: string;
  assert: string;
  judge: string;
}

const sentiments = ['positive', 'neutral', 'negative'] as const;
const thumbs: Record<string, number> = { up: 1, down: -1, '+1': 1, '-1': -1 };

/** Registers `factory feedback`. */
export function registerFeedbackCommands(program: Command): void {
  const feedback = program
    .command('feedback')
    .description('Feedback on runs: give it (score, comment, correction), search it, export corrections as evaluation cases.')
    .addHelpText(
      'after',
      [
        '',
        "Feedback is recorded on the record but never appended to the run: a run's chain ends with its seal. Each piece of",
        "feedback is a sealed feedback record of its own (agent 'feedback', parent run = the run) bound to the run's head",
        'seq and hash. See docs/quality.md.',
        'Examples:',
        '  factory feedback give run_123 --score -1 --comment "wrong leave figure" --correction "16 weeks for the birth parent"',
        '  factory feedback list --sentiment negative --agent policy-copilot',
        '  factory feedback export --agent policy-copilot --to-suite evals/policy-copilot-feedback.yaml',
      ].join('\n'),
    );

  withJson(
    feedback
      .command('give')
      .description(
        'Give feedback on a run: a score from -1 (bad) to 1 (good), or up/down, with an optional comment and the answer you expected.',
      )
      .argument('<run>', 'run id')
      .requiredOption('--score <score>', 'from -1 (bad) to 1 (good), or up / down')
      .option('--comment <text>', 'what you thought of the answer')
      .option('--correction <text>', 'the answer you expected instead (becomes an eval case with feedback export)')
      .option('--as <principal>', 'who gives the feedback', process.env.USER ? `${process.env.USER}@local` : 'cli@local'),
  ).action(
    action(async (runId: string, options: GiveOptions, command: Command) => {
      const score = parseScore(options.score);
      const request = {
        score,
        ...(options.comment !== undefined ? { comment: options.comment } : {}),
        ...(options.correction !== undefined ? { correction: options.correction } : {}),
      };
      const record = await viaServerOrStore<FeedbackRecord>({
        server: async (connection) => {
          const client = new ServerClient(connection, actingAs(connection, options.as, [], command.getOptionValueSource('as') === 'cli'));
          return (await client.request<{ feedback: FeedbackRecord }>('POST', `/v1/runs/${encodeURIComponent(runId)}/feedback`, request))
            .feedback;
        },
        store: () =>
          withStore(async (store) => {
            const [{ recordFeedback }, { openWorkspaceRecorder }] = await Promise.all([
              import('@aifactory/quality'),
              import('@aifactory/workspace/config'),
            ]);
            return recordFeedback({ store, recorder: await openWorkspaceRecorder(store) }, { runId, by: options.as, ...request });
          }),
      });
      emit(
        options,
        { feedback: record },
        ({ feedback: given }) =>
          `Recorded ${given.sentiment} feedback (score ${given.score}) on ${given.runId} as ${given.id}, bound to its head #${given.runHead.seq}.`,
      );
    }),
  );

  withJson(
    listOptions(feedback.command('list').description('Search feedback, newest first: by run, agent, sentiment, or only corrections.')),
  ).action(
    action(async (options: ListOptions) => {
      const records = await findFeedback(options);
      emit(options, { feedback: records }, ({ feedback: found }) => renderFeedback(found));
    }),
  );

  withJson(
    listOptions(
      feedback
        .command('export')
        .description(
          'Turn corrections into evaluation cases: appended to the suite (kept comments; already exported ones skipped) or written as a new suite.',
        )
        .requiredOption(
          '--to-suite <file>',
          'the suite to add the cases to, e.g. evals/policy-copilot-feedback.yaml (created when missing)',
        )
        .option('--assert <how>', 'how a case checks the correction: judge (answer-judge scores agreement), equals or contains', 'judge')
        .option('--judge <agent>', 'the judge agent for --assert judge', 'answer-judge'),
    ),
  ).action(
    action(async (options: ExportOptions) => {
      if (!['judge', 'equals', 'contains'].includes(options.assert))
        throw new UserError(ErrorCode.InputInvalid, `'${options.assert}' is not one of judge, equals, contains.`, {
          location: { path: '--assert' },
        });
      const records = await findFeedback({ ...options, corrections: true });
      const agents = [...new Set(records.map((record) => record.agent))];
      if (agents.length > 1)
        throw new UserError(
          ErrorCode.InputInvalid,
          `Corrections of several agents match (${agents.join(', ')}); a suite tests one agent, so name it with --agent.`,
          { location: { path: '--agent' } },
        );
      const { correctionsToSuite, readSuiteIfPresent } = await import('@aifactory/quality');
      const existing = await readSuiteIfPresent(options.toSuite);
      const agent = options.agent ?? agents[0] ?? 'unknown';
      const result = correctionsToSuite(records, existing, options.toSuite, {
        suiteName: path.basename(options.toSuite).replace(/\.ya?ml$/, ''),
        agent,
        assert: options.assert as 'judge' | 'equals' | 'contains',
        judge: options.judge,
      });
      if (result.added.length > 0 || existing === undefined) await writeFile(options.toSuite, result.text);
      emit(options, { suite: options.toSuite, added: result.added, skipped: result.skipped }, (value) =>
        [
          `${value.added.length} case${value.added.length === 1 ? '' : 's'} added to ${value.suite}${value.added.length > 0 ? `: ${value.added.join(', ')}` : ''}.`,
          ...value.skipped.map((skip) => `  skipped ${skip.id}: ${skip.reason}`),
          value.added.length > 0 ? `Run them: factory eval ${agent} --suite ${value.suite}` : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
    }),
  );
}

function listOptions(command: Command): Command {
  return command
    .option('--run <id>', 'feedback on this run only')
    .option('--agent <name>', 'feedback on runs of this agent only')
    .option('--sentiment <sentiment>', `only ${sentiments.join(', ')} feedback`)
    .option('--corrections', 'only feedback that carries a correction')
    .option('--limit <n>', 'at most this many, newest first', '100');
}

async function findFeedback(options: ListOptions): Promise<FeedbackRecord[]> {
  if (options.sentiment !== undefined && !(sentiments as readonly string[]).includes(options.sentiment)) {
    throw new UserError(ErrorCode.InputInvalid, `'${options.sentiment}' is not one of ${sentiments.join(', ')}.`, {
      location: { path: '--sentiment' },
    });
  }
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new UserError(ErrorCode.InputInvalid, `'${options.limit}' is not a whole number from 1 to 1000.`, {
      location: { path: '--limit' },
    });
  const filter: FeedbackFilter = {
    ...(options.run ? { runId: options.run } : {}),
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.sentiment ? { sentiment: options.sentiment as Sentiment } : {}),
    ...(options.corrections ? { withCorrection: true } : {}),
    limit,
  };
  return viaServerOrStore({
    server: async (connection) => {
      const query = new URLSearchParams({
        ...(filter.runId ? { runId: filter.runId } : {}),
        ...(filter.agent ? { agent: filter.agent } : {}),
        ...(filter.sentiment ? { sentiment: filter.sentiment } : {}),
        ...(filter.withCorrection ? { corrections: 'true' } : {}),
        limit: String(limit),
      });
      return (await new ServerClient(connection).request<{ feedback: FeedbackRecord[] }>('GET', `/v1/feedback?${query}`)).feedback;
    },
    store: () => withStore(async (store) => (await import('@aifactory/quality')).listFeedback(store, filter)),
  });
}

/** Ids of the runs that received feedback of `sentiment` (or `any`), for `factory runs list --feedback`. */
export async function runsWithFeedback(sentiment: string): Promise<Set<string>> {
  if (sentiment !== 'any' && !(sentiments as readonly string[]).includes(sentiment)) {
    throw new UserError(ErrorCode.InputInvalid, `'${sentiment}' is not one of ${sentiments.join(', ')} or any.`, {
      location: { path: '--feedback' },
    });
  }
  const records = await findFeedback({ limit: '1000', ...(sentiment === 'any' ? {} : { sentiment }) });
  return new Set(records.map((record) => record.runId));
}

async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const { openWorkspaceStore } = await import('@aifactory/workspace/config');
  const store = await openWorkspaceStore();
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function parseScore(text: string): number {
  const word = text.trim().toLowerCase();
  const score = Object.hasOwn(thumbs, word) ? thumbs[word]! : Number(word);
  if (word === '' || !Number.isFinite(score) || score < -1 || score > 1) {
    throw new UserError(ErrorCode.InputInvalid, `'${text}' is not a number from -1 (bad) to 1 (good), up or down.`, {
      location: { path: '--score' },
    });
  }
  return score;
}

function renderFeedback(records: FeedbackRecord[]): string {
  if (records.length === 0) return 'No feedback matches.';
  return records
    .map((record) =>
      [
        `${record.givenAt}  ${record.sentiment.padEnd(8)} ${String(record.score).padStart(4)}  ${record.runId}  ${record.agent}  by ${record.by}  (${record.id})`,
        ...(record.comment ? [`    comment:    ${record.comment}`] : []),
        ...(record.correction ? [`    correction: ${record.correction}`] : []),
      ].join('\n'),
    )
    .join('\n');
}
