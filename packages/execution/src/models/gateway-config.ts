// How the model gateway is configured: providers, scripts, retries, timeout, fallback, prices.
import type { ModelScript } from './model-script.ts';
import type { PriceTable } from './price-table.ts';

/** Wire protocol a provider speaks. */
export type ProviderKind = 'openai' | 'anthropic' | 'openai-compatible';

/** One provider's connection settings. */
export interface ProviderConfig {
  /** Wire protocol; by default `openai` and `anthropic` for those names, `openai-compatible` for any other. */
  kind?: ProviderKind;
  /** API key. Never appears in a message, an error or a log. */
  apiKey?: string;
  /** Base URL: OpenAI-style with `/v1` (`http://localhost:11434/v1`), Anthropic without. Required for `openai-compatible`. */
  baseURL?: string;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

/** Retry backoff: exponential from `initialDelayMs`, capped at `maxDelayMs`, with a little jitter. */
export interface BackoffConfig {
  /** Delay before the first retry (default 500). */
  initialDelayMs?: number;
  /** Longest delay, also the cap on a server's `retry-after` (default 8000). */
  maxDelayMs?: number;
}

/** Configuration of `createModelGateway`. */
export interface ModelGatewayConfig {
  /** Providers by name: `openai`, `anthropic`, and any OpenAI-compatible server (`ollama`, `vllm`). `scripted` is built in. */
  providers?: Record<string, ProviderConfig>;
  /** Model scripts by name, played by `scripted:<name>`. */
  scripts?: Record<string, ModelScript>;
  /** Directory of model scripts: `scripted:<name>` plays `<directory>/<name>.yaml` when `scripts` has no such name. */
  scriptDirectory?: string;
  /** Timeout of one attempt, streamed body included, in milliseconds (default 120000). */
  timeoutMs?: number;
  /** Retries after the first attempt on 408, 409, 429, 5xx, timeouts and connection errors (default 2). */
  maxRetries?: number;
  /** Backoff between retries. */
  backoff?: BackoffConfig;
  /** `provider:model` to call when the primary model is unavailable after its retries. */
  fallback?: string;
  /** Prices (USD per 1M tokens) merged over the defaults; keys `provider:model` or bare model names. */
  prices?: PriceTable;
  /** `max_tokens` for Anthropic when a request sets none (default 4096). */
  defaultMaxTokens?: number;
  /** The model registry: when set, a fallback is called only when it is a registered model. */
  registry?: { find(id: string): unknown };
}

/** Reads OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL into a gateway configuration. */
export function modelGatewayConfigFromEnv(env: Record<string, string | undefined> = process.env): ModelGatewayConfig {
  const providers: Record<string, ProviderConfig> = {};
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  for (const [provider, prefix] of [
    ['openai', 'OPENAI'],
    ['anthropic', 'ANTHROPIC'],
  ] as const) {
    const apiKey = read(`${prefix}_API_KEY`);
    const baseURL = read(`${prefix}_BASE_URL`);
    if (apiKey || baseURL) providers[provider] = { ...(apiKey ? { apiKey } : {}), ...(baseURL ? { baseURL } : {}) };
  }
  return { providers };
}
