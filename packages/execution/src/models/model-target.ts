// A model named by `provider:model`, and how such a name is read.
import { ErrorCode, UserError } from '@aifactory/core';

/** A model named by `provider:model`. */
export interface ModelTarget {
  /** Provider name, e.g. `openai`. */
  provider: string;
  /** Model name as the provider knows it; may itself contain colons (`llama3.1:8b`). */
  model: string;
}

/** Splits `provider:model` at the first colon; throws a MODEL_FAILED UserError when malformed. */
export function parseModelId(id: string): ModelTarget {
  const colon = id.indexOf(':');
  if (colon <= 0 || colon === id.length - 1) {
    throw new UserError(
      ErrorCode.ModelFailed,
      `Model '${id}' must be written provider:model, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5 or scripted:demo.`,
    );
  }
  return { provider: id.slice(0, colon), model: id.slice(colon + 1) };
}
