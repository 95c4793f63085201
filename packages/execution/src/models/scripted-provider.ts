// The scripted provider: plays a model script instead of calling a model, for offline runs,
// the demo and tests. Usage is estimated (characters / 4) and the cost is zero.
import type { ModelScript } from './model-script.ts';
import { playScript } from './model-script.ts';
import type { ProviderAdapter, ProviderAttempt, ProviderReply } from './provider-adapter.ts';
import { ProviderFailure, estimateRequestTokens, estimateTokens } from './provider-adapter.ts';

/** Creates the adapter that plays scripts; `resolve` finds the script a `scripted:<name>` model names. */
export function createScriptedAdapter(resolve: (name: string) => Promise<ModelScript>): ProviderAdapter {
  return {
    async attempt(attempt: ProviderAttempt): Promise<ProviderReply> {
      const script = await resolve(attempt.model);
      attempt.signal.throwIfAborted();
      const answer = playScript(script, attempt.request);
      if (answer.kind === 'error') throw new ProviderFailure('scripted', answer.message);
      if (attempt.onToken) {
        // Word by word, so a streaming consumer sees more than one fragment.
        for (const fragment of answer.content.match(/\s*\S+\s*/g) ?? []) {
          attempt.signal.throwIfAborted();
          attempt.onToken(fragment);
        }
      }
      const usage = answer.usage ?? {
        inputTokens: estimateRequestTokens(attempt.request),
        outputTokens: estimateTokens(answer.content + JSON.stringify(answer.toolCalls.map((call) => [call.name, call.args]))),
      };
      return { content: answer.content, toolCalls: answer.toolCalls, usage, finishReason: answer.finishReason };
    },
  };
}
