// Pricing a reply into the response a caller gets, and the usage ledger it is booked in (calls,
// tokens and cost by team, agent, run and model).
import type { GatewayContext } from './gateway-context.ts';
import { scriptedProvider } from './gateway-context.ts';
import type { ModelTarget } from './model-target.ts';
import type { ModelCallOptions, ModelResponse, UsageFilter, UsageRecord } from './model-types.ts';
import { computeCost, findPrice } from './price-table.ts';
import type { ProviderReply } from './provider-adapter.ts';

function book(context: GatewayContext, response: ModelResponse): void {
  const ledger = context.ledger;
  const attribution = response.attribution ?? {};
  const model = `${response.provider}:${response.model}`;
  const key = JSON.stringify([attribution.team ?? null, attribution.agent ?? null, attribution.runId ?? null, model]);
  let record = ledger.get(key);
  if (!record) {
    record = {
      ...(attribution.team !== undefined ? { team: attribution.team } : {}),
      ...(attribution.agent !== undefined ? { agent: attribution.agent } : {}),
      ...(attribution.runId !== undefined ? { runId: attribution.runId } : {}),
      model,
      calls: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
    };
    ledger.set(key, record);
  }
  record.calls += 1;
  record.inputTokens += response.usage.inputTokens;
  record.outputTokens += response.usage.outputTokens;
  record.costUsd = Math.round((record.costUsd + response.costUsd) * 1e9) / 1e9;
}

/** The response for a target's reply, priced and booked. */
export function respond(
  context: GatewayContext,
  target: ModelTarget,
  reply: ProviderReply,
  extra: { attempts: number; started: number; fallbackReason?: string; options: ModelCallOptions },
): ModelResponse {
  const scripted = target.provider === scriptedProvider;
  const price = scripted ? { inputPerMillion: 0, outputPerMillion: 0 } : findPrice(context.prices, target.provider, target.model);
  const response: ModelResponse = {
    provider: target.provider,
    model: target.model,
    content: reply.content,
    toolCalls: reply.toolCalls,
    usage: reply.usage,
    costUsd: price ? computeCost(price, reply.usage.inputTokens, reply.usage.outputTokens) : 0,
    priced: price !== undefined,
    finishReason: reply.finishReason,
    latencyMs: Math.round(performance.now() - extra.started),
    attempts: extra.attempts,
    fallbackUsed: extra.fallbackReason !== undefined,
    ...(extra.fallbackReason !== undefined ? { fallbackReason: extra.fallbackReason } : {}),
    ...(extra.options.attribution ? { attribution: { ...extra.options.attribution } } : {}),
  };
  book(context, response);
  return response;
}

/** Usage booked so far, optionally by team, agent or run, in key order. */
export function usageOf(context: GatewayContext, filter: UsageFilter = {}): UsageRecord[] {
  return [...context.ledger.values()]
    .filter(
      (record) =>
        (filter.team === undefined || record.team === filter.team) &&
        (filter.agent === undefined || record.agent === filter.agent) &&
        (filter.runId === undefined || record.runId === filter.runId),
    )
    .map((record) => ({ ...record }))
    .sort((left, right) => compareKeys(left, right));
}

function compareKeys(left: UsageRecord, right: UsageRecord): number {
  for (const key of ['team', 'agent', 'runId', 'model'] as const) {
    const order = (left[key] ?? '').localeCompare(right[key] ?? '');
    if (order !== 0) return order;
  }
  return 0;
}
