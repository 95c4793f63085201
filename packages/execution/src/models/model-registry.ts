// The model registry: `models/*.yaml`, one approved model version each — what it is
// (provider:model and version), who answers for it, which evaluation suites it was tested on
// with their results, what data it is cleared for (classifications, residency), its known
// limitations and prices. Policies read an entry as CEL `model` on every model action (so they
// can deny unregistered models, or models not cleared for the data a run has touched), and the
// gateway's fallback only picks registered models. Parsed with positions: every problem names
// file:line:column.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import type { ModelRegistryEntry } from '@aifactory/control';
import { issueProblems } from '@aifactory/control/internal';
import { problemsError, YamlSource, type SourceProblem } from '@aifactory/core/yaml';
import { z } from 'zod';

const modelId = z.string().regex(/^[a-z][a-z0-9-]*:\S+$/, { error: 'must be written provider:model, e.g. openai:gpt-4o-mini' });
const label = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]*$/, { error: 'must be lowercase letters, digits, ".", "_" and "-", e.g. internal or eu' });

/** The model format (`kind: Model`). */
export const modelDocumentSchema = z.strictObject({
  apiVersion: z.literal('aifactory/v1', { error: "must be 'aifactory/v1'" }),
  kind: z.literal('Model', { error: "must be 'Model'" }),
  metadata: z.strictObject({
    name: z.string().regex(/^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$/, { error: 'must be lowercase letters, digits, "." and inner dashes' }),
    owner: z.string().min(1),
    description: z.string().min(1).optional(),
  }),
  spec: z.strictObject({
    id: modelId.describe('provider:model, as agents and the gateway name it.'),
    version: z.string().min(1).describe("The provider's version or snapshot this approval covers, e.g. 2024-07-18."),
    evaluations: z
      .array(
        z.strictObject({
          suite: z.string().min(1),
          passed: z.boolean(),
          scores: z.record(z.string(), z.number()).default({}),
          record: z.string().min(1).optional().describe('The eval record (evr_…) the result comes from.'),
          date: z.string().min(1).optional(),
        }),
      )
      .default([]),
    compliance: z
      .strictObject({
        classifications: z.array(label).default([]).describe('Data classifications the model is cleared for, e.g. public, internal, pii.'),
        residency: z.array(label).default([]).describe('Where the provider processes data, e.g. eu, us.'),
      })
      .default({ classifications: [], residency: [] }),
    limitations: z.array(z.string().min(1)).default([]),
    prices: z
      .strictObject({
        input_per_million_usd: z.number().nonnegative(),
        output_per_million_usd: z.number().nonnegative(),
      })
      .optional(),
  }),
});

/** One registered model. */
export interface RegisteredModel {
  name: string;
  owner: string;
  description?: string;
  /** `provider:model`. */
  id: string;
  version: string;
  evaluations: Array<{ suite: string; passed: boolean; scores: Record<string, number>; record?: string; date?: string }>;
  classifications: string[];
  residency: string[];
  limitations: string[];
  prices?: { inputPerMillionUsd: number; outputPerMillionUsd: number };
  file: string;
}

/** The registry: the registered models and a lookup by `provider:model`. */
export interface ModelRegistry {
  readonly models: readonly RegisteredModel[];
  /** The entry of `provider:model`, if registered. */
  find(id: string): RegisteredModel | undefined;
  /** What a policy sees of `provider:model` (CEL `model`): `{registered: false}` when unregistered. */
  entry(id: string): ModelRegistryEntry;
}

/** Parses one model document; `file` names it in errors. */
export function parseModelDocument(text: string, file = '<inline>'): RegisteredModel {
  const source = new YamlSource(text, file);
  if (source.problems.length > 0) throw problemsError(source.problems, 'model', ErrorCode.InputInvalid);
  const parsed = modelDocumentSchema.safeParse(source.value);
  if (!parsed.success)
    throw problemsError(issueProblems(parsed.error.issues, source, source.value, modelDocumentSchema), 'model', ErrorCode.InputInvalid);
  const { metadata, spec } = parsed.data;
  return {
    name: metadata.name,
    owner: metadata.owner,
    ...(metadata.description ? { description: metadata.description } : {}),
    id: spec.id,
    version: spec.version,
    evaluations: spec.evaluations.map((evaluation) => ({
      suite: evaluation.suite,
      passed: evaluation.passed,
      scores: evaluation.scores,
      ...(evaluation.record ? { record: evaluation.record } : {}),
      ...(evaluation.date ? { date: evaluation.date } : {}),
    })),
    classifications: spec.compliance.classifications,
    residency: spec.compliance.residency,
    limitations: spec.limitations,
    ...(spec.prices
      ? { prices: { inputPerMillionUsd: spec.prices.input_per_million_usd, outputPerMillionUsd: spec.prices.output_per_million_usd } }
      : {}),
    file,
  };
}

/** Builds a registry; two documents registering one `provider:model` are an error naming both files. */
export function createModelRegistry(models: readonly RegisteredModel[]): ModelRegistry {
  const byId = new Map<string, RegisteredModel>();
  const problems: SourceProblem[] = [];
  for (const model of models) {
    const earlier = byId.get(model.id);
    if (earlier)
      problems.push({
        message: `Model '${model.id}' is registered twice: in ${earlier.file} and in ${model.file}; keep one.`,
        location: { file: model.file },
      });
    else byId.set(model.id, model);
  }
  if (problems.length > 0) throw problemsError(problems, 'model registry', ErrorCode.InputInvalid);
  const frozen = Object.freeze([...models]);
  return {
    models: frozen,
    find: (id) => byId.get(id),
    entry(id) {
      const model = byId.get(id);
      if (!model) return { registered: false, id, classifications: [], residency: [] };
      return {
        registered: true,
        id: model.id,
        version: model.version,
        owner: model.owner,
        classifications: [...model.classifications],
        residency: [...model.residency],
      };
    },
  };
}

/** Reads every `*.yaml` in a folder into a registry; undefined when the folder does not exist (no registry configured). */
export async function loadModelRegistry(directory: string): Promise<ModelRegistry | undefined> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((name) => /\.ya?ml$/i.test(name)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(
      ErrorCode.InputInvalid,
      `Cannot read the model registry folder ${directory}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`,
      { location: { file: directory } },
    );
  }
  const models: RegisteredModel[] = [];
  for (const name of names) {
    const file = path.join(directory, name);
    models.push(parseModelDocument(await readFile(file, 'utf8'), file));
  }
  return createModelRegistry(models);
}
