// What a call costs: USD per million tokens, per model. Defaults are list prices for common
// OpenAI and Anthropic models at the time of writing; prices change, so every entry is
// overridable through `ModelGatewayConfig.prices`.

/** USD per one million tokens. */
export interface ModelPrice {
  /** Price of one million input (prompt) tokens. */
  inputPerMillion: number;
  /** Price of one million output (completion) tokens. */
  outputPerMillion: number;
}

/** Prices keyed by `provider:model` or by bare model name (`gpt-4o-mini`). */
export type PriceTable = Record<string, ModelPrice>;

/** List prices of common models (USD per 1M tokens), overridable per gateway. */
export const defaultPrices: Readonly<PriceTable> = Object.freeze({
  'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 },
  'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  'gpt-4.1': { inputPerMillion: 2, outputPerMillion: 8 },
  'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  'gpt-4.1-nano': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  'gpt-5': { inputPerMillion: 1.25, outputPerMillion: 10 },
  'gpt-5-mini': { inputPerMillion: 0.25, outputPerMillion: 2 },
  'gpt-5-nano': { inputPerMillion: 0.05, outputPerMillion: 0.4 },
  o3: { inputPerMillion: 2, outputPerMillion: 8 },
  'o3-mini': { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  'o4-mini': { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  'claude-opus-4-5': { inputPerMillion: 5, outputPerMillion: 25 },
  'claude-opus-4-1': { inputPerMillion: 15, outputPerMillion: 75 },
  'claude-opus-4': { inputPerMillion: 15, outputPerMillion: 75 },
  'claude-sonnet-4-5': { inputPerMillion: 3, outputPerMillion: 15 },
  'claude-sonnet-4': { inputPerMillion: 3, outputPerMillion: 15 },
  'claude-3-7-sonnet': { inputPerMillion: 3, outputPerMillion: 15 },
  'claude-haiku-4-5': { inputPerMillion: 1, outputPerMillion: 5 },
  'claude-3-5-haiku': { inputPerMillion: 0.8, outputPerMillion: 4 },
});

/**
 * Finds the price of a model: `provider:model` first, then the bare model name, then the
 * longest table key the model name starts with followed by `-` (so dated snapshots such as
 * `gpt-4o-mini-2024-07-18` or `claude-sonnet-4-5-20250929` take their family's price).
 */
export function findPrice(table: PriceTable, provider: string, model: string): ModelPrice | undefined {
  // Keys come from configuration and model names from requests: own properties only.
  const own = (key: string) => (Object.hasOwn(table, key) ? table[key] : undefined);
  const exact = own(`${provider}:${model}`) ?? own(model);
  if (exact) return exact;
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    const bare = key.startsWith(`${provider}:`) ? key.slice(provider.length + 1) : key.includes(':') ? undefined : key;
    if (bare && model.startsWith(`${bare}-`) && (!best || bare.length > best.length)) best = key;
  }
  return best === undefined ? undefined : own(best);
}

/** Cost in USD of a number of input and output tokens at a price. */
export function computeCost(price: ModelPrice, inputTokens: number, outputTokens: number): number {
  const cost = (inputTokens * price.inputPerMillion + outputTokens * price.outputPerMillion) / 1_000_000;
  // Rounded to a billionth of a dollar so sums stay readable; far below any price step.
  return Math.round(cost * 1e9) / 1e9;
}
