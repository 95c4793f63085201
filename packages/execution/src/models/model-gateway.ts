// The model gateway: every model call of the execution plane goes through `call()`, which picks
// the provider from `provider:model`, retries with backoff on 429/5xx, times out, falls back to
// a second model, prices the call and books it in the usage ledger. It does not govern: the
// runtime asks the control plane before calling it.//
// This file is the wiring: the validated configuration and what the parts share in
// gateway-context.ts:GatewayContext; the adapters in provider-adapters.ts; one target's attempts,
// retries and failures in target-call.ts; pricing and the usage ledger in usage-ledger.ts.
import { GatewayContext } from './gateway-context.ts';
import type { ModelGatewayConfig } from './gateway-config.ts';
import type { MeteredModelGateway, ModelCallOptions, ModelRequest, ModelResponse, UsageFilter, UsageRecord } from './model-types.ts';
import { parseModelId } from './model-target.ts';
import { TargetFailed, callTarget, toError } from './target-call.ts';
import { respond, usageOf } from './usage-ledger.ts';

export { parseModelId } from './model-target.ts';
export type { ModelTarget } from './model-target.ts';

/** Creates the model gateway; validates the configuration before anything is called. */
export function createModelGateway(config: ModelGatewayConfig = {}): MeteredModelGateway {
  const context = new GatewayContext(config);
  return {
    async call(request: ModelRequest, options: ModelCallOptions = {}): Promise<ModelResponse> {
      const started = performance.now();
      const primary = parseModelId(request.model);
      context.knownProvider(primary);
      context.fallbackFor(options);
      options.signal?.throwIfAborted();
      try {
        const { reply, attempts } = await callTarget(context, primary, request, options);
        return respond(context, primary, reply, { attempts, started, options });
      } catch (error) {
        if (!(error instanceof TargetFailed)) throw error;
        const first = error.failure;
        const target = context.fallbackFor(options);
        const useFallback =
          target && !first.streamed && first.unavailable && `${target.provider}:${target.model}` !== `${primary.provider}:${primary.model}`;
        if (!useFallback) throw toError(context, first);
        // Only an approved model may stand in: with a registry, an unregistered fallback is never called.
        if (config.registry && config.registry.find(`${target.provider}:${target.model}`) === undefined) {
          throw toError(context, {
            ...first,
            what: `${first.what}; fallback ${target.provider}:${target.model} is not in the model registry (models/*.yaml), so it was not called`,
          });
        }
        const fallbackModel = `${target.provider}:${target.model}`;
        const fallbackReason = context.redact(
          `${primary.provider}:${primary.model} failed after ${first.attempts} attempt${first.attempts === 1 ? '' : 's'}: ${first.what}`,
        );
        if (options.beforeFallback && (await options.beforeFallback({ model: fallbackModel, reason: fallbackReason })) !== true)
          throw toError(context, first);
        try {
          const { reply, attempts } = await callTarget(context, target, { ...request, model: fallbackModel }, options);
          return respond(context, target, reply, { attempts: first.attempts + attempts, started, fallbackReason, options });
        } catch (fallbackError) {
          if (!(fallbackError instanceof TargetFailed)) throw fallbackError;
          throw toError(context, first, fallbackError.failure);
        }
      }
    },

    usage(filter: UsageFilter = {}): UsageRecord[] {
      return usageOf(context, filter);
    },
  };
}
