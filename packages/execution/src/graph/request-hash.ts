// The hash a model request is recorded and replayed by.
import { canonicalJson, contentHash, sha256Hex } from '@aifactory/core';
import type { ChatMessage, ToolSpec } from '../models/index.ts';

const messageHashes = new WeakMap<object, string>();
const toolListHashes = new WeakMap<object, string>();

/**
 * The hash a model request is recorded (and replayed) by: model, parameters, the tools offered
 * and every message. Messages and tool lists are hashed once per object and cached, so a long
 * conversation costs one small hash per step instead of re-serialising the whole request.
 */
export function requestHash(request: {
  model: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  parameters?: Record<string, unknown>;
}): string {
  const messages = request.messages.map((message) => {
    let hash = messageHashes.get(message);
    if (hash === undefined) {
      hash = contentHash(message);
      messageHashes.set(message, hash);
    }
    return hash;
  });
  let tools = toolListHashes.get(request.tools);
  if (tools === undefined) {
    tools = contentHash(request.tools);
    toolListHashes.set(request.tools, tools);
  }
  // contentHash({ model, parameters, tools, messages }) written out directly: its canonical JSON is
  // these keys in this order, and hex hashes need no escaping — the list of message hashes grows
  // with the conversation, so this skips copying and checking it string by string every step.
  const model = JSON.stringify(request.model);
  if (!wellFormedText(request.model)) return contentHash({ model: request.model, parameters: request.parameters ?? null, tools, messages });
  return sha256Hex(
    `{"messages":[${messages.length > 0 ? `"${messages.join('","')}"` : ''}],"model":${model},"parameters":${canonicalJson(request.parameters ?? null)},"tools":"${tools}"}`,
  );
}

/** No lone surrogate (canonical JSON refuses those; contentHash then says why). */
const wellFormedText = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();
