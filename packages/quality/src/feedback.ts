// Feedback on runs: a score from -1 (bad) to 1 (good), a comment, and the answer the person
// expected (a correction), on the record.
//
// Where it is recorded: never in the run's own chain. A run's chain ends with its seal, and
// feedback mostly comes after the run has ended — appending would break the rule that nothing
// follows a sealed run's last event. Each piece of feedback is instead a *feedback record*: a
// small chain of its own (run.started of agent `feedback`, parent_run_id = the run, with the
// run's head seq and hash; feedback.given; run.completed), sealed like any run. Binding it to the
// run's head hash means the record says exactly which version of the run it judged; sealing it
// into the seal chain means deleting or editing feedback is as visible as deleting a run.
// Comments and corrections live only in the feedback.given payload (redacted like every event);
// the runs row's metadata holds the score and sentiment for searching.
import { randomUUID } from 'node:crypto';
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { readRunEvents, type Recorder } from '@aifactory/verification';
import { countRunsByMetadata, findRun, findRunsById, findRunsWhere } from '@aifactory/verification/internal';

/** The agent name feedback records are filed under. */
export const FEEDBACK_AGENT = 'feedback';

/** How a score reads: above 0 positive, below negative, 0 neutral. */
export type Sentiment = 'positive' | 'neutral' | 'negative';

/** What giving feedback takes. */
export interface FeedbackRequest {
  runId: string;
  /** Who gives it (the principal). */
  by: string;
  /** From -1 (bad) to 1 (good). */
  score: number;
  comment?: string;
  /** The answer the person expected instead; `factory feedback export` turns it into an eval case. */
  correction?: string;
}

/** One piece of feedback as recorded. */
export interface FeedbackRecord {
  /** The feedback record's own id (a sealed chain). */
  id: string;
  runId: string;
  /** The agent of the run the feedback is about. */
  agent: string;
  by: string;
  score: number;
  sentiment: Sentiment;
  comment?: string;
  correction?: string;
  /** The run's input text, when it had one (for exports). */
  input?: string;
  givenAt: string;
  /** The run's head (seq and hash) when the feedback was given. */
  runHead: { seq: number; hash: string };
}

const maxComment = 4_000;
const maxCorrection = 20_000;

/** The sentiment of a score. */
export function sentimentOf(score: number): Sentiment {
  return score > 0 ? 'positive' : score < 0 ? 'negative' : 'neutral';
}

/** Validates a request before anything is written; one sentence per mistake. */
export function validateFeedback(request: FeedbackRequest): void {
  if (typeof request.score !== 'number' || !Number.isFinite(request.score) || request.score < -1 || request.score > 1) {
    throw new UserError(
      ErrorCode.InputInvalid,
      `Feedback score ${JSON.stringify(request.score)} is not a number from -1 (bad) to 1 (good); use 1 or -1 for thumbs up or down.`,
      { location: { path: 'score' } },
    );
  }
  if (request.comment !== undefined && request.comment.length > maxComment)
    throw new UserError(ErrorCode.InputInvalid, `The comment is ${request.comment.length} characters; at most ${maxComment}.`, {
      location: { path: 'comment' },
    });
  if (request.correction !== undefined && (request.correction.trim() === '' || request.correction.length > maxCorrection)) {
    throw new UserError(ErrorCode.InputInvalid, `The correction must hold the expected answer, 1 to ${maxCorrection} characters.`, {
      location: { path: 'correction' },
    });
  }
}

/** Records feedback on a run as a sealed feedback record; NOT_FOUND when the run does not exist. */
export async function recordFeedback(parts: { store: Store; recorder: Recorder }, request: FeedbackRequest): Promise<FeedbackRecord> {
  validateFeedback(request);
  const run = await findRun(parts.store, request.runId);
  if (!run)
    throw new UserError(ErrorCode.NotFound, `Run '${request.runId}' does not exist; run 'factory runs list' to see the runs.`, {
      location: { path: 'runId' },
    });
  if (run.agent === FEEDBACK_AGENT)
    throw new UserError(
      ErrorCode.InputInvalid,
      `Run '${request.runId}' is itself a feedback record; give feedback on the run it is about (${run.parentRunId ?? 'unknown'}).`,
    );
  const head = await parts.recorder.head(request.runId);
  const sentiment = sentimentOf(request.score);
  const id = `fb_${randomUUID()}`;
  const started = await parts.recorder.startRun({
    id,
    agent: FEEDBACK_AGENT,
    ...(run.team ? { team: run.team } : {}),
    principal: request.by,
    parentRunId: request.runId,
    metadata: {
      kind: 'feedback',
      feedback_of: request.runId,
      agent_of_run: run.agent,
      score: request.score,
      sentiment,
      has_correction: request.correction !== undefined,
      run_head: { seq: head.seq, hash: head.hash },
    },
  });
  await parts.recorder.record(id, {
    type: 'feedback.given',
    actor: request.by,
    payload: {
      run_id: request.runId,
      run_head: { seq: head.seq, hash: head.hash },
      by: request.by,
      score: request.score,
      sentiment,
      ...(request.comment !== undefined ? { comment: request.comment } : {}),
      ...(request.correction !== undefined ? { correction: request.correction } : {}),
    },
  });
  await parts.recorder.finishRun(id, { status: 'completed' });
  const input = inputText(run.input);
  return {
    id,
    runId: request.runId,
    agent: run.agent,
    by: request.by,
    score: request.score,
    sentiment,
    ...(request.comment !== undefined ? { comment: request.comment } : {}),
    ...(request.correction !== undefined ? { correction: request.correction } : {}),
    ...(input !== undefined ? { input } : {}),
    givenAt: started.ts.toISOString(),
    runHead: { seq: head.seq, hash: head.hash },
  };
}

/** Which feedback to list. */
export interface FeedbackFilter {
  /** About this run only. */
  runId?: string;
  /** About runs of this agent only. */
  agent?: string;
  sentiment?: Sentiment;
  /** Only feedback that carries a correction. */
  withCorrection?: boolean;
  /** At most this many, newest first (default 100). */
  limit?: number;
}

/** Lists feedback, newest first, with comments and corrections read from the recorded events. */
export async function listFeedback(store: Store, filter: FeedbackFilter = {}): Promise<FeedbackRecord[]> {
  const metadata: Record<string, string> = {};
  if (filter.agent) metadata['agent_of_run'] = filter.agent;
  if (filter.sentiment) metadata['sentiment'] = filter.sentiment;
  if (filter.withCorrection) metadata['has_correction'] = 'true';
  const rows = await findRunsWhere(
    store,
    { agent: FEEDBACK_AGENT, ...(filter.runId ? { parentRunId: filter.runId } : {}), metadata },
    { limit: Math.max(1, Math.min(filter.limit ?? 100, 10_000)) },
  );
  const parents = [...new Set(rows.map((row) => row.parentRunId).filter((id): id is string => typeof id === 'string'))];
  const inputs = new Map<string, string>();
  if (parents.length > 0) {
    for (const parent of await findRunsById(store, parents)) {
      const text = inputText(parent.input);
      if (text !== undefined) inputs.set(parent.id, text);
    }
  }
  const records: FeedbackRecord[] = [];
  for (const row of rows) {
    const metadata = (row.metadata ?? {}) as {
      agent_of_run?: string;
      score?: number;
      sentiment?: Sentiment;
      run_head?: { seq: number; hash: string };
    };
    let given: Record<string, unknown> | undefined;
    for await (const event of readRunEvents(store, row.id)) {
      if (event.type === 'feedback.given' && event.payloadText !== null) given = JSON.parse(event.payloadText) as Record<string, unknown>;
    }
    const runId = row.parentRunId ?? String(given?.run_id ?? '');
    const input = inputs.get(runId);
    records.push({
      id: row.id,
      runId,
      agent: metadata.agent_of_run ?? 'unknown',
      by: row.principal,
      score: typeof given?.score === 'number' ? given.score : (metadata.score ?? 0),
      sentiment: metadata.sentiment ?? sentimentOf(Number(given?.score ?? 0)),
      ...(typeof given?.comment === 'string' ? { comment: given.comment } : {}),
      ...(typeof given?.correction === 'string' ? { correction: given.correction } : {}),
      ...(input !== undefined ? { input } : {}),
      givenAt: row.startedAt.toISOString(),
      runHead: metadata.run_head ?? { seq: 0, hash: '' },
    });
  }
  return records;
}

/** Counts feedback by the agent of the run and sentiment (for metrics). */
export async function countFeedback(store: Store): Promise<Array<{ agent: string; sentiment: string; count: number }>> {
  const rows = await countRunsByMetadata(store, { agent: FEEDBACK_AGENT }, ['agent_of_run', 'sentiment']);
  return rows.map((row) => ({ agent: row.values[0], sentiment: row.values[1], count: row.count }));
}

/** The text of a run's recorded input ({text} as runs start), if any. */
function inputText(input: unknown): string | undefined {
  if (typeof input === 'string') return input;
  const text = (input as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : undefined;
}
