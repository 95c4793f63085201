// Agent definitions: `agents/*.yaml` read, validated and resolved into what the runtime needs —
// absolute paths, the system prompt and its hash, MCP server launch settings with their
// variables expanded, and a content hash of the definition. Every mistake is a
// UserError(AGENT_INVALID) naming the file, line, column and field.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, UserError, contentHash, sha256Hex, type AiFactoryError, type SourceLocation } from '@aifactory/core';
import { durationMilliseconds } from '@aifactory/control';
import { dataHome } from '@aifactory/store';
import type { z } from 'zod';
import { resolvePackageBin } from '../tools/package-bin.ts';
import type { McpServerConfig } from '../tools/tool-types.ts';
import { agentDocumentSchema, type AgentDocument, type AgentLimits } from './agent-schema.ts';
import { expandVariables, type TemplateContext } from './template-variables.ts';
import {
  formatPath as formatFieldPath,
  parseYamlSource,
  problemsError,
  sortProblems,
  type DocumentPath as FieldPath,
  type YamlSource,
} from '@aifactory/core/yaml';

/** An agent definition, validated and resolved. */
export interface AgentDefinition {
  /** Agent name (`metadata.name`): how runs, hand-offs and the CLI refer to it. */
  name: string;
  /** What the agent does. */
  description: string;
  /** Team its cost is attributed to. */
  team?: string;
  /** Product feature its cost is attributed to, unless a run names another. */
  feature?: string;
  /** Free-form tags, visible to policies as `agent.tags`. */
  tags: string[];
  /** Absolute path of the definition file (`<inline>` when parsed from text without one). */
  file: string;
  /** Folder the definition's relative paths are resolved against (`${agentDir}`). */
  directory: string;
  /** The model. */
  model: {
    /** `provider:model`. */
    id: string;
    /** Model parameters as written (temperature, max_tokens, provider-specific keys). */
    parameters?: Record<string, unknown>;
    /** `provider:model` to fall back to. */
    fallback?: string;
    /** Absolute path of the scripted-model YAML for offline runs. */
    script?: string;
  };
  /** The system prompt text. */
  systemPrompt: string;
  /** Absolute path of the prompt file, when the prompt comes from one. */
  systemPromptFile?: string;
  /** sha256 (hex) of the system prompt text, recorded with every run. */
  promptHash: string;
  /** The registry prompt the agent names (`spec.prompt`); the workspace resolves it before a run starts. */
  promptReference?: { name: string; ref: string; variables: Record<string, string> };
  /** The registry prompt version the system prompt was resolved from, recorded with every run. */
  prompt?: ResolvedPromptInfo;
  /** MCP servers, ready for `ToolHost.connect` (variables expanded, packages resolved to `node <bin>`). */
  tools: McpServerConfig[];
  /** Knowledge collections the agent may search. */
  knowledge: Array<{ collection: string; topK?: number }>;
  /** Absolute paths of the policy files that apply to the agent. */
  policies: string[];
  /** Agents this one may hand tasks to. */
  handoffs: string[];
  /** Per-run limits, with the keys of a policy's `limits`. */
  limits: AgentLimits;
  /** `limits.max_duration` in milliseconds, when set. */
  maxDurationMs?: number;
  /** contentHash of the validated document as written (before variables) together with the prompt hash. */
  definitionHash: string;
  /** The validated document as written. */
  document: AgentDocument;
}

/** Which registry prompt version an agent's system prompt comes from. */
export interface ResolvedPromptInfo {
  /** Prompt name. */
  name: string;
  /** The version resolved. */
  version: number;
  /** The label it was resolved through, when the reference named one. */
  label?: string;
  /** sha256 of the published template. */
  contentHash: string;
}

/** The definition with its registry prompt resolved: the text to run with, its hash, and the version it came from. */
export function withResolvedPrompt(definition: AgentDefinition, text: string, prompt: ResolvedPromptInfo): AgentDefinition {
  const promptHash = sha256Hex(text);
  const resolved: AgentDefinition = {
    ...definition,
    systemPrompt: text,
    promptHash,
    prompt,
    definitionHash: contentHash({ document: definition.document, promptHash }),
  };
  const locate = locators.get(definition);
  if (locate) locators.set(resolved, locate);
  return resolved;
}

function promptReferenceOf(reference: string, variables: Record<string, string>): NonNullable<AgentDefinition['promptReference']> {
  const at = reference.lastIndexOf('@');
  return { name: reference.slice(0, at), ref: reference.slice(at + 1), variables };
}

/** Options of the loaders. */
export interface AgentLoadOptions {
  /** Environment for `${env:NAME}` and the default data folder (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** The folder `${dataDir}` stands for (default AIFACTORY_HOME, else ./.factory). */
  dataDirectory?: string;
  /** Base folder for a definition parsed from text without a file (default the current folder). */
  directory?: string;
  /** Folders `package:` servers are resolved from, after the agent's own folder (default: this package's dependencies). */
  packageSearchPaths?: string[];
}

const executionPackageDirectory = path.resolve(import.meta.dirname, '..', '..');
const locators = new WeakMap<AgentDefinition, (fieldPath: FieldPath) => SourceLocation>();

/** Parses and resolves one agent definition from YAML text; `file` names it in errors and anchors relative paths. */
export function parseAgentDefinition(text: string, file = '<inline>', options: AgentLoadOptions = {}): AgentDefinition {
  const source = parseYamlSource(text, file, ErrorCode.AgentInvalid, 'Agent definition');
  const parsed = agentDocumentSchema.safeParse(source.value);
  if (!parsed.success) throw validationError(parsed.error.issues, source);
  const document = parsed.data;
  const fail = (fieldPath: FieldPath, message: string, cause?: unknown): never => {
    throw new UserError(ErrorCode.AgentInvalid, message, { location: source.locate(fieldPath), ...(cause === undefined ? {} : { cause }) });
  };

  const inline = file === '<inline>';
  const absoluteFile = inline ? file : path.resolve(file);
  const directory = inline ? path.resolve(options.directory ?? '.') : path.dirname(absoluteFile);
  const env = options.env ?? process.env;
  const context: TemplateContext = {
    agentDir: directory,
    dataDir: path.resolve(options.dataDirectory ?? dataHome(env as NodeJS.ProcessEnv)),
    env,
  };
  const existingFile = (fieldPath: FieldPath, relative: string, what: string): string => {
    const absolute = path.resolve(directory, relative);
    if (!existsSync(absolute)) fail(fieldPath, `${what} '${relative}' does not exist (looked for ${absolute}).`);
    if (!statSync(absolute).isFile()) fail(fieldPath, `${what} '${relative}' is not a file (${absolute}).`);
    return absolute;
  };

  const { spec, metadata } = document;
  let systemPrompt: string;
  let systemPromptFile: string | undefined;
  if (spec.system_prompt_file !== undefined) {
    systemPromptFile = existingFile(['spec', 'system_prompt_file'], spec.system_prompt_file, 'Prompt file');
    systemPrompt = readFileSync(systemPromptFile, 'utf8');
    if (systemPrompt.trim() === '') fail(['spec', 'system_prompt_file'], `Prompt file '${spec.system_prompt_file}' is empty.`);
  } else if (spec.prompt !== undefined) {
    // Resolved when a run starts (the workspace's prompt registry); empty until then, and the
    // runtime refuses to run a definition whose reference was never resolved.
    systemPrompt = '';
  } else {
    systemPrompt = spec.system_prompt as string;
  }

  const script = spec.model.script === undefined ? undefined : existingFile(['spec', 'model', 'script'], spec.model.script, 'Model script');
  const policies = spec.policies.map((policy, index) => existingFile(['spec', 'policies', index], policy, 'Policy file'));
  const handoffSelf = spec.handoffs.indexOf(metadata.name);
  if (handoffSelf >= 0) fail(['spec', 'handoffs', handoffSelf], `Agent '${metadata.name}' cannot hand off to itself.`);

  const tools = spec.tools.map((server, index): McpServerConfig => {
    const at = (...rest: Array<string | number>): FieldPath => ['spec', 'tools', index, ...rest];
    const expand = (value: string, fieldPath: FieldPath): string => {
      const expanded = expandVariables(value, context);
      return expanded.ok ? expanded.value : fail(fieldPath, `Cannot expand '${value}': ${expanded.message}.`);
    };
    const expandRecord = (record: Record<string, string> | undefined, field: string): Record<string, string> | undefined =>
      record === undefined
        ? undefined
        : Object.fromEntries(Object.entries(record).map(([key, value]) => [key, expand(value, at(field, key))]));
    const env = expandRecord(server.env, 'env');
    const headers = expandRecord(server.headers, 'headers');
    const args = (server.args ?? []).map((value, argIndex) => expand(value, at('args', argIndex)));
    const cwd = server.cwd === undefined ? undefined : path.resolve(directory, expand(server.cwd, at('cwd')));
    let command: string | undefined;
    let commandArgs = args;
    if (server.package !== undefined) {
      try {
        const bin = resolvePackageBin(server.package, {
          from: [directory, ...(options.packageSearchPaths ?? [executionPackageDirectory])],
          ...(server.bin ? { bin: server.bin } : {}),
        });
        command = process.execPath;
        commandArgs = [bin.script, ...args];
      } catch (error) {
        fail(at('package'), error instanceof Error ? error.message : String(error), error);
      }
    } else if (server.command !== undefined) {
      command = expand(server.command, at('command'));
    }
    let url: string | undefined;
    if (server.url !== undefined) {
      url = expand(server.url, at('url'));
      const parsedUrl = URL.canParse(url) ? new URL(url) : undefined;
      if (!parsedUrl || (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:'))
        fail(at('url'), `URL '${server.url}' must be an http or https URL.`);
    }
    return {
      name: server.server,
      ...(command !== undefined ? { command, args: commandArgs } : {}),
      ...(env ? { env } : {}),
      ...(cwd ? { cwd } : {}),
      ...(url !== undefined ? { url } : {}),
      ...(headers ? { headers } : {}),
      ...(server.allow ? { allow: server.allow } : {}),
      ...(server.idempotent ? { idempotent: server.idempotent } : {}),
      ...(server.timeout_ms ? { timeoutMs: server.timeout_ms } : {}),
    };
  });

  const promptHash = sha256Hex(systemPrompt);
  const limits = spec.limits ?? {};
  const maxDurationMs = limits.max_duration === undefined ? undefined : durationMilliseconds(limits.max_duration);
  const definition: AgentDefinition = {
    name: metadata.name,
    description: metadata.description,
    ...(metadata.team ? { team: metadata.team } : {}),
    ...(metadata.feature ? { feature: metadata.feature } : {}),
    tags: metadata.tags ?? [],
    file: absoluteFile,
    directory,
    model: {
      id: spec.model.id,
      ...(spec.model.parameters ? { parameters: spec.model.parameters } : {}),
      ...(spec.model.fallback ? { fallback: spec.model.fallback } : {}),
      ...(script ? { script } : {}),
    },
    systemPrompt,
    ...(systemPromptFile ? { systemPromptFile } : {}),
    promptHash,
    ...(spec.prompt !== undefined ? { promptReference: promptReferenceOf(spec.prompt, spec.prompt_variables ?? {}) } : {}),
    tools,
    knowledge: spec.knowledge.map((entry) => ({
      collection: entry.collection,
      ...(entry.top_k === undefined ? {} : { topK: entry.top_k }),
    })),
    policies,
    handoffs: spec.handoffs,
    limits,
    ...(maxDurationMs === undefined ? {} : { maxDurationMs }),
    definitionHash: contentHash({ document, promptHash }),
    document,
  };
  locators.set(definition, (fieldPath) => source.locate(fieldPath));
  return definition;
}

/** Reads, validates and resolves one agent definition file. */
export async function loadAgentDefinition(file: string, options: AgentLoadOptions = {}): Promise<AgentDefinition> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a folder' : (error as Error).message;
    throw new UserError(ErrorCode.NotFound, `Cannot read agent definition '${file}': ${reason}.`, { location: { file }, cause: error });
  }
  return parseAgentDefinition(text, file, options);
}

/**
 * Loads every `*.yaml` / `*.yml` file directly in `directory` (sub-folders such as `scripts/`
 * are not read), sorted by file name. Also checks across files: names are unique and every
 * hand-off names an agent in the folder.
 */
export async function loadAgents(directory: string, options: AgentLoadOptions = {}): Promise<AgentDefinition[]> {
  const files = await agentFiles(directory);
  const definitions: AgentDefinition[] = [];
  for (const file of files) definitions.push(await loadAgentDefinition(file, options));
  const byName = new Map<string, AgentDefinition>();
  for (const definition of definitions) {
    const first = byName.get(definition.name);
    if (first) throw locatedError(definition, ['metadata', 'name'], `Agent name '${definition.name}' is already used by ${first.file}.`);
    byName.set(definition.name, definition);
  }
  for (const definition of definitions) {
    definition.handoffs.forEach((target, index) => {
      if (!byName.has(target)) {
        throw locatedError(
          definition,
          ['spec', 'handoffs', index],
          `Hand-off target '${target}' is not an agent in ${directory}; agents there: ${[...byName.keys()].join(', ')}.`,
        );
      }
    });
  }
  return definitions;
}

/** Where a field of a loaded definition is in its file (for errors found after loading). */
export function locateAgentField(definition: AgentDefinition, fieldPath: FieldPath): SourceLocation {
  return locators.get(definition)?.(fieldPath) ?? { file: definition.file, path: formatFieldPath(fieldPath) };
}

/** The `*.yaml` / `*.yml` regular files directly in `directory` (symbolic links are not followed), sorted. */
export async function agentFiles(directory: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message;
    throw new UserError(ErrorCode.NotFound, `Cannot read the agents folder '${directory}': ${reason}.`, { cause: error });
  }
  return entries
    .filter((entry) => entry.isFile() && /\.ya?ml$/i.test(entry.name))
    .map((entry) => path.join(directory, entry.name))
    .sort();
}

function locatedError(definition: AgentDefinition, fieldPath: FieldPath, message: string): AiFactoryError {
  return new UserError(ErrorCode.AgentInvalid, message, { location: locateAgentField(definition, fieldPath) });
}

/**
 * One UserError for all schema problems: the first in the file as the message, all in
 * `details.problems` as `{ message, location }`, the name and shape policies, models, prompts and
 * eval suites use (core/src/yaml-source.ts:problemsError).
 */
function validationError(issues: z.core.$ZodIssue[], source: YamlSource): UserError {
  return problemsError(sortProblems(issues.flatMap((issue) => describeIssue(issue, source))), 'agent definition', ErrorCode.AgentInvalid);
}

function describeIssue(issue: z.core.$ZodIssue, source: YamlSource): Array<{ location: SourceLocation; message: string }> {
  const issuePath = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(issuePath);
    return issue.keys.map((key) => ({
      location: source.locate([...issuePath, key], { key: true }),
      message: `Unknown key '${key}'; expected one of: ${allowed.join(', ')}.`,
    }));
  }
  const present = valueAt(source.value, issuePath);
  if (issue.code === 'invalid_type' && issuePath.length === 0) {
    return [
      {
        location: source.locate([]),
        message: `An agent definition must be a mapping with apiVersion, kind, metadata and spec, not ${source.value == null ? 'an empty document' : describeValue(source.value)}.`,
      },
    ];
  }
  if (issue.code === 'invalid_type' && !present.found) {
    return [
      { location: { ...source.locate(issuePath.slice(0, -1)), path: formatFieldPath(issuePath) }, message: 'Required field is missing.' },
    ];
  }
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'invalid_type') message = `Expected ${issue.expected}, got ${describeValue(present.value)}.`;
  else {
    message = `${message.charAt(0).toUpperCase()}${message.slice(1)}`;
    message = message.replace(/\.$/, '');
    // Our own (custom) messages already say what is wrong with the value.
    if (issue.code !== 'custom' && present.found && (typeof present.value !== 'object' || present.value === null))
      message += `, got ${describeValue(present.value)}`;
    message += '.';
  }
  return [{ location: source.locate(issuePath), message }];
}

function valueAt(root: unknown, fieldPath: FieldPath): { found: boolean; value?: unknown } {
  let current: unknown = root;
  for (const segment of fieldPath) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) return { found: false };
    current = (current as Record<string | number, unknown>)[segment];
  }
  return { found: current !== undefined, value: current };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = typeof value === 'string' ? `'${value}'` : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The keys the schema allows at a path, for "expected one of" messages. */
function allowedKeys(fieldPath: FieldPath): string[] {
  let schema: unknown = agentDocumentSchema;
  for (const segment of [...fieldPath, undefined]) {
    // Unwrap optional, default, pipe and array layers until an object (or nothing) is left.
    for (;;) {
      const definition = (schema as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
      if (!definition) return [];
      if (definition.type === 'object') break;
      if (typeof segment === 'number' && definition.type === 'array') {
        schema = definition.element;
        break;
      }
      schema = definition.innerType ?? definition.in;
    }
    if (segment === undefined) {
      const shape = (schema as { _zod: { def: { shape: Record<string, unknown> } } })._zod.def.shape;
      return Object.keys(shape);
    }
    if (typeof segment === 'string')
      schema = ((schema as { _zod: { def: { shape?: Record<string, unknown> } } })._zod.def.shape ?? {})[segment];
  }
  return [];
}
