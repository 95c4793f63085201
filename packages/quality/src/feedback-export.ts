// Corrections become evaluation cases: what a user said the answer should have been is tested on
// the next change. Each correction is one case (its id names the feedback record it came from),
// with the run's input and, by default, a judge asked whether the answer agrees with the
// correction — or, with `assert: equals|contains`, a literal check. Appending to an existing suite
// keeps its comments and skips corrections already exported.
import { readFile } from 'node:fs/promises';
import { ErrorCode, UserError } from '@aifactory/core';
import { isMap, isSeq, parseDocument, stringify } from 'yaml';
import { parseEvalSuite } from './eval-suite.ts';
import type { FeedbackRecord } from './feedback.ts';

/** How a correction is checked. */
export type CorrectionAssertion = 'judge' | 'equals' | 'contains';

/** Options of correctionsToSuite. */
export interface CorrectionExportOptions {
  /** The suite's name when a new file is written (default from the file name). */
  suiteName: string;
  /** The agent the cases are for. */
  agent: string;
  assert?: CorrectionAssertion;
  /** The judge agent for `assert: judge` (default answer-judge). */
  judge?: string;
}

/** The case id a feedback record exports to. */
export function correctionCaseId(record: Pick<FeedbackRecord, 'id'>): string {
  return `feedback-${record.id.replace(/^fb_/, '').slice(0, 8)}`;
}

/** The eval case of one correction. */
export function correctionCase(
  record: FeedbackRecord,
  options: Pick<CorrectionExportOptions, 'assert' | 'judge'> = {},
): Record<string, unknown> {
  const correction = record.correction!;
  const assertion = options.assert ?? 'judge';
  const expect =
    assertion === 'equals'
      ? { equals: correction }
      : assertion === 'contains'
        ? { contains: correction }
        : {
            judge: {
              agent: options.judge ?? 'answer-judge',
              name: 'agrees_with_correction',
              rubric: `The answer agrees with what the user said it should be: ${correction}`,
              min_score: 0.7,
            },
          };
  return { id: correctionCaseId(record), input: record.input!, tags: ['feedback', `run:${record.runId}`], expect };
}

/**
 * Adds the corrections to the suite text (or makes a new suite when `existing` is undefined).
 * Returns the new text and the ids added; corrections without the run's input, or already in the
 * suite, are skipped and named.
 */
export function correctionsToSuite(
  records: readonly FeedbackRecord[],
  existing: string | undefined,
  file: string,
  options: CorrectionExportOptions,
): { text: string; added: string[]; skipped: Array<{ id: string; reason: string }> } {
  const skipped: Array<{ id: string; reason: string }> = [];
  const present = new Set(existing === undefined ? [] : parseEvalSuite(existing, file).cases.map((evalCase) => evalCase.id));
  const cases: Array<Record<string, unknown>> = [];
  for (const record of records) {
    if (record.correction === undefined) continue;
    const id = correctionCaseId(record);
    if (record.input === undefined) skipped.push({ id: record.id, reason: `run ${record.runId} has no recorded input text` });
    else if (present.has(id)) skipped.push({ id: record.id, reason: `case ${id} is already in ${file}` });
    else {
      present.add(id);
      cases.push(correctionCase(record, options));
    }
  }
  if (existing === undefined) {
    const suite = {
      apiVersion: 'aifactory/v1',
      kind: 'EvalSuite',
      metadata: { name: options.suiteName, description: `Corrections users gave on ${options.agent}'s answers (factory feedback export).` },
      spec: { agent: options.agent, thresholds: { pass_rate: 1 }, cases },
    };
    const text = `# Exported from feedback with corrections: each case is a run users corrected.\n${stringify(suite, { lineWidth: 0 })}`;
    parseEvalSuite(text, file);
    return { text, added: cases.map((evalCase) => String(evalCase.id)), skipped };
  }
  const document = parseDocument(existing);
  const spec = document.get('spec', true);
  if (!isMap(spec))
    throw new UserError(ErrorCode.InputInvalid, `${file} has no spec mapping to add cases to.`, { location: { file, path: 'spec' } });
  const list = spec.get('cases', true);
  if (list !== undefined && !isSeq(list))
    throw new UserError(ErrorCode.InputInvalid, `spec.cases in ${file} is not a list.`, { location: { file, path: 'spec.cases' } });
  if (cases.length > 0) {
    if (list === undefined) spec.set('cases', document.createNode(cases));
    else for (const evalCase of cases) list.add(document.createNode(evalCase));
  }
  const text = document.toString({ lineWidth: 0 });
  parseEvalSuite(text, file);
  return { text, added: cases.map((evalCase) => String(evalCase.id)), skipped };
}

/** Reads a suite file if it exists (undefined when it does not). */
export async function readSuiteIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
