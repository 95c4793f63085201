// A prompt of the registry (prompts/<name>.yaml) as its owner writes it: a template with
// `{{variable}}` placeholders, the variables it takes, who owns it, and the suite that tests it.
// The file is the draft; `factory prompts publish` turns it into an immutable numbered version
// in the store (prompt-registry.ts). Parsed with positions, so every problem names file:line:col.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, UserError, sha256Hex } from '@aifactory/core';
import { issueProblems } from '@aifactory/control/internal';
import { problemsError, YamlSource, type SourceProblem } from '@aifactory/core/yaml';
import { z } from 'zod';

/** A prompt name: the agent-name grammar (lowercase letters, digits and inner dashes). */
export const promptNamePattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A label name: lowercase letters, digits and dashes, starting with a letter (`production`, `staging`). */
export const promptLabelPattern = /^[a-z][a-z0-9-]{0,31}$/;

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const placeholder = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

const variable = z.strictObject({
  description: z.string().min(1).optional(),
  default: z.string().optional(),
});

/** The prompt format (`kind: Prompt`). */
export const promptDocumentSchema = z.strictObject({
  apiVersion: z.literal('aifactory/v1', { error: "must be 'aifactory/v1'" }),
  kind: z.literal('Prompt', { error: "must be 'Prompt'" }),
  metadata: z.strictObject({
    name: z.string().regex(promptNamePattern, { error: 'must be lowercase letters, digits and inner dashes, e.g. policy-copilot' }),
    owner: z.string().min(1),
    description: z.string().min(1).optional(),
  }),
  spec: z.strictObject({
    template: z.string().min(1),
    variables: z.record(z.string().regex(variableName, { error: 'must be a variable name (letters, digits, _)' }), variable).default({}),
    tests: z
      .strictObject({
        suite: z.string().min(1),
        agent: z.string().min(1).optional(),
      })
      .optional(),
  }),
});

/** A prompt draft, validated. */
export interface PromptDocument {
  name: string;
  owner: string;
  description?: string;
  template: string;
  variables: Record<string, { description?: string; default?: string }>;
  /** The suite a version must pass before promotion (relative to the workspace), and the agent it evaluates. */
  tests?: { suite: string; agent?: string };
  /** sha256 of the canonical content that a version freezes: template and variables. */
  contentHash: string;
  file: string;
}

/** Parses a prompt draft from YAML; `file` names it in errors. */
export function parsePromptDocument(text: string, file = '<inline>'): PromptDocument {
  const source = new YamlSource(text, file);
  if (source.problems.length > 0) throw problemsError(source.problems, 'prompt', ErrorCode.InputInvalid);
  const parsed = promptDocumentSchema.safeParse(source.value);
  if (!parsed.success)
    throw problemsError(issueProblems(parsed.error.issues, source, source.value, promptDocumentSchema), 'prompt', ErrorCode.InputInvalid);
  const { metadata, spec } = parsed.data;
  const problems: SourceProblem[] = [];
  for (const used of placeholders(spec.template)) {
    if (!Object.hasOwn(spec.variables, used))
      problems.push({
        message: `The template uses {{${used}}}, which spec.variables does not declare.`,
        location: source.locate(['spec', 'template']),
      });
  }
  const declared = new Set(placeholders(spec.template));
  for (const name of Object.keys(spec.variables)) {
    if (!declared.has(name))
      problems.push({
        message: `Variable '${name}' is declared but the template never uses {{${name}}}.`,
        location: source.locate(['spec', 'variables', name]),
      });
  }
  if (file !== '<inline>' && path.basename(file).replace(/\.ya?ml$/i, '') !== metadata.name) {
    problems.push({
      message: `The prompt is named '${metadata.name}' but its file is ${path.basename(file)}; name the file prompts/${metadata.name}.yaml.`,
      location: source.locate(['metadata', 'name']),
    });
  }
  if (problems.length > 0) throw problemsError(problems, 'prompt', ErrorCode.InputInvalid);
  return {
    name: metadata.name,
    owner: metadata.owner,
    ...(metadata.description ? { description: metadata.description } : {}),
    template: spec.template,
    variables: spec.variables,
    ...(spec.tests ? { tests: { suite: spec.tests.suite, ...(spec.tests.agent ? { agent: spec.tests.agent } : {}) } } : {}),
    contentHash: promptContentHash(spec.template, spec.variables),
    file,
  };
}

/** Reads `prompts/<name>.yaml` from a prompts folder; NOT_FOUND names the file looked for. */
export async function loadPromptDocument(directory: string, name: string): Promise<PromptDocument> {
  if (!promptNamePattern.test(name))
    throw new UserError(
      ErrorCode.InputInvalid,
      `'${name}' is not a prompt name; use lowercase letters, digits and inner dashes, e.g. policy-copilot.`,
      { location: { path: 'name' } },
    );
  const file = path.join(directory, `${name}.yaml`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(
      ErrorCode.NotFound,
      `No prompt draft '${name}': cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}).`,
      { location: { file } },
    );
  }
  return parsePromptDocument(text, file);
}

/** The hash a version is identified by: the template and its variables, in canonical form. */
export function promptContentHash(template: string, variables: Record<string, { description?: string; default?: string }>): string {
  const sorted = Object.fromEntries(
    Object.keys(variables)
      .sort()
      .map((key) => [key, { default: variables[key]!.default ?? null }]),
  );
  return sha256Hex(JSON.stringify({ template, variables: sorted }));
}

/** Fills a template: every `{{name}}` from `values`, else the variable's default; a missing one is a UserError. */
export function renderPrompt(
  prompt: { name: string; template: string; variables: Record<string, { default?: string }> },
  values: Record<string, string>,
): string {
  const missing: string[] = [];
  const text = prompt.template.replace(placeholder, (_whole, name: string) => {
    if (Object.hasOwn(values, name)) return values[name]!;
    const fallback = Object.hasOwn(prompt.variables, name) ? prompt.variables[name]!.default : undefined;
    if (fallback === undefined) {
      missing.push(name);
      return '';
    }
    return fallback;
  });
  if (missing.length > 0) {
    throw new UserError(
      ErrorCode.AgentInvalid,
      `Prompt '${prompt.name}' needs a value for ${[...new Set(missing)].map((name) => `'${name}'`).join(', ')}; set it in the agent's spec.prompt_variables.`,
      { location: { path: 'spec.prompt_variables' } },
    );
  }
  const unknown = Object.keys(values).filter((name) => !Object.hasOwn(prompt.variables, name));
  if (unknown.length > 0) {
    throw new UserError(
      ErrorCode.AgentInvalid,
      `Prompt '${prompt.name}' has no variable '${unknown[0]}'; its variables: ${Object.keys(prompt.variables).join(', ') || 'none'}.`,
      { location: { path: 'spec.prompt_variables' } },
    );
  }
  return text;
}

function placeholders(template: string): string[] {
  return [...template.matchAll(placeholder)].map((match) => match[1]!);
}
