// Model scripts: YAML files of answers and tool calls that the scripted provider plays, for
// offline runs, the demo and tests. Playing is stateless: which turn answers a call is derived
// from the call's own messages, so a run resumed from a checkpoint in another process picks
// up exactly where it stopped.
import { readFile } from 'node:fs/promises';
import { ErrorCode, UserError } from '@aifactory/core';
import type { SourceLocation } from '@aifactory/core';
import { parseYamlSource } from '@aifactory/core/yaml';
import { isMap, isScalar, isSeq } from 'yaml';
import type { Node, Pair, YAMLMap } from 'yaml';
import { toModelToolName } from '../tools/tool-names.ts';
import type { ChatMessage, ModelRequest, ToolCall } from './model-types.ts';

/**
 * A model script, as parsed from YAML by {@link parseScript}.
 *
 * ```yaml
 * description: Lists a folder, then answers with what it found.
 * turns:                       # turn N answers the call that already has N assistant messages
 *   - say: Looking up the folder.
 *     tool_calls:
 *       - name: fs.list_directory        # matched to the offered tool `fs__list_directory` too
 *         args: { path: "." }
 *   - say: "Done: {{last_tool_result}}"  # templates: last_tool_result, last_user_message
 * ```
 *
 * or, to answer differently depending on what the user asked:
 *
 * ```yaml
 * scenarios:                   # the first scenario whose condition holds for the LAST user message
 *   - when_user_contains: refund        # case-insensitive substring
 *     turns:                            # counted from that user message
 *       - tool_calls: [{ name: payments.refund, args: { amount: 50 } }]
 *       - say: Refunded.
 *   - when_user_matches: "^delete .*"   # regular expression, case-insensitive
 *     turns: [{ say: I will not delete anything. }]
 *   - turns: [{ say: "You said: {{last_user_message}}" }]   # no condition: the default
 * ```
 *
 * A turn has `say` (text, streamed word by word), `tool_calls` (each `name`, optional `args`
 * and `id`; ids default to `call_<assistant count>_<index>`), both, or `error` (the call fails
 * with that message, as an unavailable provider would; the gateway's fallback applies).
 * Optional per turn: `finish_reason` (default `tool_calls` when there are tool calls, else
 * `stop`) and `usage: {input_tokens, output_tokens}` (default: characters / 4).
 */
export interface ModelScript {
  /** Name the script is called by (`scripted:<name>`), for messages. */
  name?: string;
  /** File it was read from, for messages. */
  file?: string;
  /** What the script is for. */
  description?: string;
  /** Turns played in order over the whole conversation (exclusive with `scenarios`). */
  turns?: ScriptTurn[];
  /** Turn lists chosen by the last user message (exclusive with `turns`). */
  scenarios?: ScriptScenario[];
}

/** A list of turns played when its condition holds for the last user message. */
export interface ScriptScenario {
  /** Plays when the last user message contains this text (case-insensitive). */
  whenUserContains?: string;
  /** Plays when the last user message matches this regular expression (case-insensitive). */
  whenUserMatches?: string;
  /** Turns, counted from the last user message. */
  turns: ScriptTurn[];
  /** Where the scenario is in its file. */
  location?: SourceLocation;
}

/** One scripted model answer. */
export interface ScriptTurn {
  /** Text of the answer; may use `{{last_tool_result}}` and `{{last_user_message}}`. */
  say?: string;
  /** Tool calls of the answer. */
  toolCalls?: ScriptToolCall[];
  /** Finish reason to report. */
  finishReason?: string;
  /** Token usage to report instead of the characters / 4 estimate. */
  usage?: { inputTokens: number; outputTokens: number };
  /** Fail the call with this message instead of answering. */
  error?: string;
  /** Where the turn is in its file. */
  location?: SourceLocation;
}

/** One scripted tool call. */
export interface ScriptToolCall {
  /** Tool name, as the agent definition names it or as offered to the model. */
  name: string;
  /** Arguments; string values may use the templates. */
  args?: Record<string, unknown>;
  /** Call id; defaults to `call_<assistant count>_<index>`. */
  id?: string;
}

/** The answer a script gives to one call. */
export type ScriptedAnswer =
  | {
      kind: 'answer';
      turnIndex: number;
      content: string;
      toolCalls: ToolCall[];
      finishReason: string;
      usage?: { inputTokens: number; outputTokens: number };
    }
  | { kind: 'error'; turnIndex: number; message: string };

/** Thrown when a script has no turn for a call: it ran out, or no scenario matched. */
export class UnexpectedModelCallError extends UserError {
  constructor(message: string, location?: SourceLocation) {
    super(ErrorCode.ModelFailed, message, location ? { location } : {});
  }
}

const templateVariables = ['last_tool_result', 'last_user_message'] as const;
const templatePattern = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** Parses a model script from YAML; errors name the file, line and column. */
export function parseScript(text: string, file = '<inline>'): ModelScript {
  // Not strict: model scripts were always read leniently (a comment without a space before it is fine).
  const source = parseYamlSource(text, file, ErrorCode.InputInvalid, 'Model script', { strict: false });
  const where = (node: Node | Pair | null | undefined, path: string): SourceLocation => {
    const offset =
      (node && 'range' in node ? node.range?.[0] : undefined) ??
      (node && 'key' in node && isScalar(node.key) ? node.key.range?.[0] : undefined);
    if (offset === undefined) return { file, path };
    return { file, ...source.position(offset), path };
  };
  const fail = (node: Node | Pair | null | undefined, path: string, message: string): never => {
    throw new UserError(ErrorCode.InputInvalid, message, { location: where(node, path) });
  };
  const root = source.document.contents;
  if (!isMap(root)) return fail(root, '', 'A model script must be a mapping with `turns` or `scenarios`.');

  const entries = (map: YAMLMap, path: string, allowed: readonly string[]): Map<string, Pair<unknown, unknown>> => {
    const found = new Map<string, Pair<unknown, unknown>>();
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      const keyPath = path ? `${path}.${key}` : String(key);
      if (key === undefined || !allowed.includes(key))
        fail(pair.key as Node, keyPath, `Unknown key '${String(key)}'; expected one of: ${allowed.join(', ')}.`);
      found.set(key as string, pair);
    }
    return found;
  };
  const stringAt = (pair: Pair<unknown, unknown>, path: string): string => {
    const value = pair.value as Node | null;
    if (!isScalar(value) || typeof value.value !== 'string') return fail(value ?? pair, path, `${path} must be a string.`);
    return value.value;
  };
  const checkTemplates = (value: string, node: Node, path: string) => {
    for (const match of value.matchAll(templatePattern)) {
      const variable = match[1] ?? '';
      if (!(templateVariables as readonly string[]).includes(variable)) {
        fail(node, path, `Unknown template variable '{{${variable}}}'; available: ${templateVariables.join(', ')}.`);
      }
    }
  };
  const checkArgTemplates = (node: unknown, path: string) => {
    if (isScalar(node) && typeof node.value === 'string') checkTemplates(node.value, node, path);
    else if (isMap(node))
      for (const pair of node.items) checkArgTemplates(pair.value, `${path}.${isScalar(pair.key) ? String(pair.key.value) : '?'}`);
    else if (isSeq(node)) node.items.forEach((item, index) => checkArgTemplates(item, `${path}[${index}]`));
  };
  const count = (pair: Pair<unknown, unknown>, path: string): number => {
    const value = pair.value as Node | null;
    if (!isScalar(value) || typeof value.value !== 'number' || !Number.isInteger(value.value) || value.value < 0) {
      return fail(value ?? pair, path, `${path} must be a non-negative integer.`);
    }
    return value.value;
  };

  const parseTurn = (node: unknown, path: string): ScriptTurn => {
    if (!isMap(node)) return fail(node as Node, path, `${path} must be a mapping with \`say\`, \`tool_calls\` or \`error\`.`);
    const keys = entries(node, path, ['say', 'tool_calls', 'finish_reason', 'usage', 'error']);
    const turn: ScriptTurn = { location: where(node, path) };
    const say = keys.get('say');
    if (say) {
      turn.say = stringAt(say, `${path}.say`);
      checkTemplates(turn.say, say.value as Node, `${path}.say`);
    }
    const toolCalls = keys.get('tool_calls');
    if (toolCalls) {
      const list = toolCalls.value;
      if (!isSeq(list)) return fail((list as Node) ?? toolCalls, `${path}.tool_calls`, `${path}.tool_calls must be a list.`);
      turn.toolCalls = list.items.map((item, index) => {
        const callPath = `${path}.tool_calls[${index}]`;
        if (!isMap(item)) return fail(item as Node, callPath, `${callPath} must be a mapping with \`name\` and \`args\`.`);
        const callKeys = entries(item, callPath, ['name', 'args', 'id']);
        const name = callKeys.get('name');
        if (!name) return fail(item, callPath, `${callPath} needs a \`name\`.`);
        const call: ScriptToolCall = { name: stringAt(name, `${callPath}.name`) };
        const args = callKeys.get('args');
        if (args) {
          if (!isMap(args.value)) return fail((args.value as Node) ?? args, `${callPath}.args`, `${callPath}.args must be a mapping.`);
          checkArgTemplates(args.value, `${callPath}.args`);
          call.args = args.value.toJSON() as Record<string, unknown>;
        }
        const id = callKeys.get('id');
        if (id) call.id = stringAt(id, `${callPath}.id`);
        return call;
      });
    }
    const finishReason = keys.get('finish_reason');
    if (finishReason) turn.finishReason = stringAt(finishReason, `${path}.finish_reason`);
    const usage = keys.get('usage');
    if (usage) {
      if (!isMap(usage.value))
        return fail(
          (usage.value as Node) ?? usage,
          `${path}.usage`,
          `${path}.usage must be a mapping with input_tokens and output_tokens.`,
        );
      const usageKeys = entries(usage.value, `${path}.usage`, ['input_tokens', 'output_tokens']);
      const input = usageKeys.get('input_tokens');
      const output = usageKeys.get('output_tokens');
      turn.usage = {
        inputTokens: input ? count(input, `${path}.usage.input_tokens`) : 0,
        outputTokens: output ? count(output, `${path}.usage.output_tokens`) : 0,
      };
    }
    const error = keys.get('error');
    if (error) {
      turn.error = stringAt(error, `${path}.error`);
      if (say || toolCalls)
        fail(error.key as Node, `${path}.error`, `${path} has \`error\` and an answer; a turn either fails or answers.`);
    }
    if (!say && !toolCalls && !error) fail(node, path, `${path} needs \`say\`, \`tool_calls\` or \`error\`.`);
    return turn;
  };
  const parseTurns = (pair: Pair<unknown, unknown>, path: string): ScriptTurn[] => {
    const list = pair.value;
    if (!isSeq(list) || list.items.length === 0) return fail((list as Node) ?? pair, path, `${path} must be a non-empty list of turns.`);
    return list.items.map((item, index) => parseTurn(item, `${path}[${index}]`));
  };

  const keys = entries(root, '', ['description', 'turns', 'scenarios']);
  const script: ModelScript = { file };
  const description = keys.get('description');
  if (description) script.description = stringAt(description, 'description');
  const turns = keys.get('turns');
  const scenarios = keys.get('scenarios');
  if (turns && scenarios) fail(scenarios.key as Node, 'scenarios', 'A model script has either `turns` or `scenarios`, not both.');
  if (turns) script.turns = parseTurns(turns, 'turns');
  else if (scenarios) {
    const list = scenarios.value;
    if (!isSeq(list) || list.items.length === 0)
      return fail((list as Node) ?? scenarios, 'scenarios', 'scenarios must be a non-empty list.');
    script.scenarios = list.items.map((item, index) => {
      const path = `scenarios[${index}]`;
      if (!isMap(item)) return fail(item as Node, path, `${path} must be a mapping with \`turns\`.`);
      const scenarioKeys = entries(item, path, ['when_user_contains', 'when_user_matches', 'turns']);
      const scenarioTurns = scenarioKeys.get('turns');
      if (!scenarioTurns) return fail(item, path, `${path} needs \`turns\`.`);
      const scenario: ScriptScenario = { turns: parseTurns(scenarioTurns, `${path}.turns`), location: where(item, path) };
      const contains = scenarioKeys.get('when_user_contains');
      if (contains) scenario.whenUserContains = stringAt(contains, `${path}.when_user_contains`);
      const matches = scenarioKeys.get('when_user_matches');
      if (matches) {
        scenario.whenUserMatches = stringAt(matches, `${path}.when_user_matches`);
        try {
          new RegExp(scenario.whenUserMatches, 'i');
        } catch (error) {
          fail(
            matches.value as Node,
            `${path}.when_user_matches`,
            `${path}.when_user_matches is not a valid regular expression: ${(error as Error).message}.`,
          );
        }
      }
      return scenario;
    });
  } else fail(root, '', 'A model script needs `turns` or `scenarios`.');
  return script;
}

/** Reads and parses a model script file. */
export async function loadScript(file: string): Promise<ModelScript> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message;
    throw new UserError(ErrorCode.NotFound, `Cannot read model script '${file}': ${reason}.`, { location: { file }, cause: error });
  }
  return parseScript(text, file);
}

function render(template: string, variables: Record<(typeof templateVariables)[number], string>): string {
  return template.replace(templatePattern, (whole, variable: string) =>
    Object.hasOwn(variables, variable) ? variables[variable as keyof typeof variables] : whole,
  );
}

function renderArgs(value: unknown, variables: Record<(typeof templateVariables)[number], string>): unknown {
  if (typeof value === 'string') return render(value, variables);
  if (Array.isArray(value)) return value.map((item) => renderArgs(item, variables));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderArgs(item, variables)]));
  return value;
}

function lastIndexOf(messages: ChatMessage[], role: ChatMessage['role']): number {
  for (let index = messages.length - 1; index >= 0; index--) if (messages[index]?.role === role) return index;
  return -1;
}

/**
 * Plays a script for one call. Stateless: the turn is chosen from the request alone — with
 * `turns`, turn N answers the call whose messages hold N assistant messages; with `scenarios`,
 * the first scenario matching the last user message plays, its turn N answering the call with
 * N assistant messages after that user message.
 */
export function playScript(script: ModelScript, request: Pick<ModelRequest, 'messages' | 'tools'>): ScriptedAnswer {
  const label = `Scripted model '${script.name ?? script.file ?? 'inline'}'`;
  const location = script.file ? { file: script.file } : undefined;
  const messages = request.messages;
  const assistantCount = messages.filter((message) => message.role === 'assistant').length;
  const userIndex = lastIndexOf(messages, 'user');
  const lastUser = userIndex >= 0 ? (messages[userIndex]?.content ?? '') : '';
  const toolIndex = lastIndexOf(messages, 'tool');
  const variables = { last_tool_result: toolIndex >= 0 ? (messages[toolIndex]?.content ?? '') : '', last_user_message: lastUser };

  let turns: ScriptTurn[];
  let turnIndex: number;
  if (script.scenarios) {
    const scenario = script.scenarios.find(
      (candidate) =>
        (candidate.whenUserContains === undefined || lastUser.toLowerCase().includes(candidate.whenUserContains.toLowerCase())) &&
        (candidate.whenUserMatches === undefined || new RegExp(candidate.whenUserMatches, 'i').test(lastUser)),
    );
    if (!scenario) {
      throw new UnexpectedModelCallError(
        `${label} has no scenario for the user message '${truncate(lastUser)}'; add one, or one without a condition as the default.`,
        location,
      );
    }
    turns = scenario.turns;
    turnIndex = messages.slice(userIndex + 1).filter((message) => message.role === 'assistant').length;
  } else {
    turns = script.turns ?? [];
    turnIndex = assistantCount;
  }
  const turn = turns[turnIndex];
  if (!turn) {
    throw new UnexpectedModelCallError(
      `${label} ran out of turns: it has ${turns.length} and this call follows ${turnIndex} assistant message${turnIndex === 1 ? '' : 's'}.`,
      // Point at the last turn: the next one goes after it.
      withoutPath(turns.at(-1)?.location) ?? location,
    );
  }
  if (turn.error !== undefined) return { kind: 'error', turnIndex, message: turn.error };

  const offered = new Set((request.tools ?? []).map((tool) => tool.name));
  const toolCalls: ToolCall[] = (turn.toolCalls ?? []).map((call, index) => {
    // A script may name a tool as the agent definition does (`fs.read_file`); the runtime offers
    // it as `fs__read_file`. Use the offered name when that is the one that exists.
    const name =
      offered.size > 0 && !offered.has(call.name) && offered.has(toModelToolName(call.name)) ? toModelToolName(call.name) : call.name;
    return {
      id: call.id ?? `call_${assistantCount}_${index}`,
      name,
      args: renderArgs(call.args ?? {}, variables) as Record<string, unknown>,
    };
  });
  return {
    kind: 'answer',
    turnIndex,
    content: turn.say === undefined ? '' : render(turn.say, variables),
    toolCalls,
    finishReason: turn.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
    ...(turn.usage ? { usage: turn.usage } : {}),
  };
}

function withoutPath(location: SourceLocation | undefined): SourceLocation | undefined {
  if (!location) return undefined;
  const { path: _path, ...rest } = location;
  return rest;
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
