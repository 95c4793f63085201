// Every evaluation is on the record: when a suite has run, its verdict, scores and what it
// tested (the agent, the registry prompt version, the model) become a sealed eval record — a
// small chain of the agent `eval` (run.started, eval.completed, run.completed), like feedback.
// Promotions read it (CEL `eval`), so the gate decides on a result nobody can edit afterwards.
import { randomUUID } from 'node:crypto';
import type { Recorder } from '@aifactory/verification';
import type { EvalReport } from './eval-runner.ts';
import { EVAL_RECORD_AGENT } from './prompts/prompt-registry.ts';

/** What an evaluation tested, besides the agent. */
export interface EvalSubject {
  /** The registry prompt version the agent ran with. */
  prompt?: { name: string; version: number };
  /** The model the agent ran with (`provider:model`). */
  model?: string;
}

/** Records a suite's result as a sealed eval record; returns its id. */
export async function recordEvalResult(recorder: Recorder, report: EvalReport, subject: EvalSubject, by: string): Promise<string> {
  const id = `evr_${randomUUID()}`;
  const summary = { suite: report.suite, agent: report.agent, passed: report.passed, scores: report.scores, cases: report.totals.cases };
  await recorder.startRun({
    id,
    agent: EVAL_RECORD_AGENT,
    principal: by,
    metadata: {
      kind: 'eval',
      ...summary,
      ...(subject.prompt ? { prompt: subject.prompt } : {}),
      ...(subject.model ? { model: subject.model } : {}),
    },
  });
  await recorder.record(id, {
    type: 'eval.completed',
    actor: by,
    payload: {
      ...summary,
      failures: report.failures,
      case_runs: report.cases.map((result) => ({ id: result.id, passed: result.passed, run_id: result.runId ?? null })),
      ...subject,
    },
  });
  await recorder.finishRun(id, { status: 'completed' });
  return id;
}
