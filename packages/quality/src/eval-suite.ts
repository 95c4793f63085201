// An evaluation suite (evals/<name>.yaml): cases with an input and what the run must show — text
// checks, the governance outcome, citations, an LLM judge, latency and cost ceilings — and labelled
// queries for a knowledge collection. Parsed with positions, so every problem names file, line
// and column the way a policy's do.
import { readFile } from 'node:fs/promises';
import { ErrorCode, UserError } from '@aifactory/core';
import { issueProblems, regexSyntaxProblem } from '@aifactory/control/internal';
import { problemsError, YamlSource, type SourceProblem } from '@aifactory/core/yaml';
import { z } from 'zod';
import { schemaValidator } from './json-schema-check.ts';

const name = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must start with a letter or digit and use only letters, digits, ".", "_" and "-"');
const texts = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const fraction = z.number().min(0).max(1);

/** The governance outcomes a case can expect. */
export const EVAL_OUTCOMES = ['autonomous', 'completed', 'held', 'denied', 'failed'] as const;
/** What a run must have come to: `autonomous` completed with every action autonomous, `held` waits for approval, `denied` had an action denied. */
export type EvalOutcome = (typeof EVAL_OUTCOMES)[number];

const principal = z.strictObject({ id: z.string().min(1), roles: z.array(z.string().min(1)).optional() });

const judge = z.strictObject({
  agent: name,
  rubric: z.string().min(1),
  min_score: fraction.optional(),
  name: name.optional(),
});

const expectation = z.strictObject({
  outcome: z.enum(EVAL_OUTCOMES).optional(),
  equals: z.string().optional(),
  contains: texts.optional(),
  not_contains: texts.optional(),
  regex: z.string().min(1).optional(),
  json_schema: z.record(z.string(), z.unknown()).optional(),
  citations: z
    .union([z.boolean(), z.strictObject({ sources: z.array(z.string().min(1)).optional(), min: z.int().min(0).optional() })])
    .optional(),
  judge: judge.optional(),
  max_latency_ms: z.number().positive().optional(),
  max_cost_usd: z.number().min(0).optional(),
});

const evalCase = z.strictObject({
  id: name,
  input: z.string().min(1),
  as: principal.optional(),
  tags: z.array(z.string().min(1)).optional(),
  expect: expectation.optional(),
});

const retrieval = z.strictObject({
  collection: name,
  k: z.int().min(1).max(100).optional(),
  queries: z.array(z.strictObject({ id: name.optional(), query: z.string().min(1), relevant: z.array(z.string().min(1)).min(1) })).min(1),
});

/** The document shape of an evaluation suite. */
export const evalSuiteDocumentSchema = z.strictObject({
  apiVersion: z.literal('aifactory/v1'),
  kind: z.literal('EvalSuite'),
  metadata: z.strictObject({ name, description: z.string().optional(), owner: z.string().optional() }),
  spec: z.strictObject({
    agent: name.optional(),
    principal: principal.optional(),
    concurrency: z.int().min(1).max(64).optional(),
    thresholds: z.strictObject({ pass_rate: fraction.optional(), scores: z.record(z.string(), fraction).optional() }).optional(),
    defaults: expectation.optional(),
    cases: z.array(evalCase).optional(),
    retrieval: retrieval.optional(),
  }),
});

type SuiteDocument = z.infer<typeof evalSuiteDocumentSchema>;
/** What a case expects of its run; every field is optional and each present one is checked. */
export type CaseExpectation = z.infer<typeof expectation>;
/** A judge: another agent, run governed, scores the answer against a rubric. */
export type JudgeExpectation = z.infer<typeof judge>;

/** One case of a suite. */
export interface EvalCase {
  /** Unique within the suite. */
  id: string;
  /** The task given to the agent. */
  input: string;
  /** Who the run acts for (default the suite's principal). */
  principal: { id: string; roles: string[] };
  /** Free labels, for filtering. */
  tags: string[];
  /** The suite's defaults merged with the case's own expectations. */
  expect: CaseExpectation;
  /** Where the case is in its file (for reports). */
  line: number;
}

/** A labelled query of a retrieval evaluation. */
export interface RetrievalQuery {
  id: string;
  query: string;
  /** Sources (or citation prefixes) that count as relevant. */
  relevant: string[];
}

/** A parsed evaluation suite. */
export interface EvalSuite {
  name: string;
  description?: string;
  owner?: string;
  /** File it was read from, as given. */
  file: string;
  /** The agent the suite is written for, when it names one. */
  agent?: string;
  principal: { id: string; roles: string[] };
  /** How many cases run at once (default 4). */
  concurrency: number;
  /** Minimum fraction of passing cases (default 1) and minimum suite scores by name. */
  thresholds: { passRate: number; scores: Record<string, number> };
  cases: EvalCase[];
  retrieval?: { collection: string; k: number; queries: RetrievalQuery[] };
}

const defaultPrincipal = { id: 'eval@factory.local', roles: [] as string[] };

/** Parses a suite from YAML text; throws a UserError naming file, line and column of every problem. */
export function parseEvalSuite(text: string, file = '<inline>'): EvalSuite {
  const source = new YamlSource(text, file);
  if (source.problems.length > 0) throw problemsError(source.problems, 'evaluation suite', ErrorCode.InputInvalid);
  const result = evalSuiteDocumentSchema.safeParse(source.value);
  if (!result.success)
    throw problemsError(
      issueProblems(result.error.issues, source, source.value, evalSuiteDocumentSchema),
      'evaluation suite',
      ErrorCode.InputInvalid,
    );
  const document = result.data;
  const problems = semanticProblems(document, source);
  if (problems.length > 0) throw problemsError(problems, 'evaluation suite', ErrorCode.InputInvalid);
  const spec = document.spec;
  const suitePrincipal = spec.principal ? { id: spec.principal.id, roles: spec.principal.roles ?? [] } : defaultPrincipal;
  return {
    name: document.metadata.name,
    ...(document.metadata.description ? { description: document.metadata.description } : {}),
    ...(document.metadata.owner ? { owner: document.metadata.owner } : {}),
    file,
    ...(spec.agent ? { agent: spec.agent } : {}),
    principal: suitePrincipal,
    concurrency: spec.concurrency ?? 4,
    thresholds: { passRate: spec.thresholds?.pass_rate ?? 1, scores: { ...(spec.thresholds?.scores ?? {}) } },
    cases: (spec.cases ?? []).map((raw, index) => ({
      id: raw.id,
      input: raw.input,
      principal: raw.as ? { id: raw.as.id, roles: raw.as.roles ?? [] } : suitePrincipal,
      tags: raw.tags ?? [],
      expect: { ...(spec.defaults ?? {}), ...(raw.expect ?? {}) },
      line: source.locate(['spec', 'cases', index]).line ?? 0,
    })),
    ...(spec.retrieval
      ? {
          retrieval: {
            collection: spec.retrieval.collection,
            k: spec.retrieval.k ?? 5,
            queries: spec.retrieval.queries.map((query, index) => ({
              id: query.id ?? `query-${index + 1}`,
              query: query.query,
              relevant: query.relevant,
            })),
          },
        }
      : {}),
  };
}

/** Reads and parses a suite file; a missing file is the caller's mistake, named. */
export async function loadEvalSuite(file: string): Promise<EvalSuite> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(
      ErrorCode.NotFound,
      `Cannot read the evaluation suite '${file}': ${(error as NodeJS.ErrnoException).code ?? String(error)}; give the path of an evals/<name>.yaml file.`,
      { location: { file } },
    );
  }
  return parseEvalSuite(text, file);
}

/** What a shape cannot say: something to evaluate, unique ids, RE2-valid patterns, compilable JSON Schemas. */
function semanticProblems(document: SuiteDocument, source: YamlSource): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const spec = document.spec;
  if ((spec.cases?.length ?? 0) === 0 && !spec.retrieval) {
    problems.push({ message: 'The suite evaluates nothing; add spec.cases, spec.retrieval or both.', location: source.locate(['spec']) });
  }
  const seen = new Map<string, number>();
  (spec.cases ?? []).forEach((raw, index) => {
    const first = seen.get(raw.id);
    if (first !== undefined)
      problems.push({
        message: `Case id '${raw.id}' is used twice (first at spec.cases[${first}]); ids name cases in reports and must be unique.`,
        location: source.locate(['spec', 'cases', index, 'id']),
      });
    else seen.set(raw.id, index);
    if (raw.expect) problems.push(...expectationProblems(raw.expect, source, ['spec', 'cases', index, 'expect']));
  });
  if (spec.defaults) problems.push(...expectationProblems(spec.defaults, source, ['spec', 'defaults']));
  return problems;
}

function expectationProblems(expect: CaseExpectation, source: YamlSource, path: Array<string | number>): SourceProblem[] {
  const problems: SourceProblem[] = [];
  if (expect.regex !== undefined) {
    const problem = regexSyntaxProblem(expect.regex);
    if (problem) problems.push({ message: `${problem.replace(/\.$/, '')}.`, location: source.locate([...path, 'regex']) });
  }
  if (expect.json_schema !== undefined) {
    try {
      schemaValidator(expect.json_schema);
    } catch (error) {
      problems.push({
        message: `The JSON Schema does not compile: ${error instanceof Error ? error.message : String(error)}.`,
        location: source.locate([...path, 'json_schema']),
      });
    }
  }
  return problems;
}
