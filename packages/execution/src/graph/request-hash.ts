// The hash a model request is recorded and replayed by.
import { createHash, type Hash } from 'node:crypto';
import { canonicalJson, contentHash } from '@aifactory/core';
import type { ChatMessage, ToolSpec } from '../models/index.ts';

const messageHashes = new WeakMap<object, string>();
const toolListHashes = new WeakMap<object, string>();

/**
 * A conversation hashed so far: the sha256 state after `{"messages":["<hash of messages[0]>",...`
 * up to its last message, kept under that last message object. The next request of the same
 * conversation — the same message objects, a few more at the end — goes on from a copy of it.
 */
interface HashedPrefix {
  messages: readonly ChatMessage[];
  /** Hash of messages[0] (the system message, a new object on every request but the same text). */
  first: string;
  state: Hash;
}

const prefixes = new WeakMap<object, HashedPrefix>();
/** How far from the end a request's earlier prefix is looked for (a step adds a reply and its tool results). */
const prefixLookBack = 16;

function messageHash(message: ChatMessage): string {
  let hash = messageHashes.get(message);
  if (hash === undefined) {
    hash = contentHash(message);
    messageHashes.set(message, hash);
  }
  return hash;
}

/** The longest earlier prefix of these messages hashed already, when one is at hand. */
function hashedPrefix(messages: readonly ChatMessage[], first: string): HashedPrefix | undefined {
  for (let index = messages.length - 1; index >= 1 && index >= messages.length - prefixLookBack; index -= 1) {
    const prefix = prefixes.get(messages[index]!);
    if (!prefix || prefix.messages.length !== index + 1 || prefix.first !== first) continue;
    // The same message objects in the same places (the first aside, compared by its hash).
    let same = true;
    for (let position = 1; position < index && same; position += 1) same = prefix.messages[position] === messages[position];
    if (same) return prefix;
  }
  return undefined;
}

/**
 * The hash a model request is recorded (and replayed) by: model, parameters, the tools offered
 * and every message — contentHash({ model, parameters, tools: contentHash(tools), messages: the
 * contentHash of each message }). Messages and tool lists are hashed once per object, and the
 * canonical text is hashed as it grows: each request of a conversation feeds sha256 only the
 * hashes of the messages added since the last one (from a copy of the state it left), so a step
 * costs the same at the thousandth message as at the third.
 */
export function requestHash(request: {
  model: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  parameters?: Record<string, unknown>;
}): string {
  let tools = toolListHashes.get(request.tools);
  if (tools === undefined) {
    tools = contentHash(request.tools);
    toolListHashes.set(request.tools, tools);
  }
  const { messages } = request;
  if (!wellFormedText(request.model))
    return contentHash({ model: request.model, parameters: request.parameters ?? null, tools, messages: messages.map(messageHash) });
  // The canonical JSON of { messages, model, parameters, tools } written out directly: its keys in
  // this order, and hex hashes need no escaping.
  const suffix = `],"model":${JSON.stringify(request.model)},"parameters":${canonicalJson(request.parameters ?? null)},"tools":"${tools}"}`;
  if (messages.length === 0) return createHash('sha256').update(`{"messages":[${suffix}`).digest('hex');
  const first = messageHash(messages[0]!);
  const prefix = hashedPrefix(messages, first);
  // The same request asked again (a replay, a recovered run's ledger): finish a copy of its state.
  if (prefix && prefix.messages.length === messages.length) return prefix.state.copy().update(suffix).digest('hex');
  // Else the state goes on from the prefix (taken over: one prefix is kept per conversation, the
  // latest; a request that branches off an earlier message hashes from the start) or from scratch.
  let state: Hash;
  if (prefix) {
    prefixes.delete(prefix.messages.at(-1)!);
    state = prefix.state;
  } else state = createHash('sha256').update(`{"messages":["${first}"`);
  let added = '';
  for (let index = prefix ? prefix.messages.length : 1; index < messages.length; index += 1) added += `,"${messageHash(messages[index]!)}"`;
  state.update(added);
  if (messages.length > 1) prefixes.set(messages.at(-1)!, { messages: messages.slice(), first, state });
  return state.copy().update(suffix).digest('hex');
}

/** No lone surrogate (canonical JSON refuses those; contentHash then says why). */
const wellFormedText = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();
