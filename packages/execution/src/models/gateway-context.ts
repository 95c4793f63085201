// What the model gateway's parts share: the validated configuration (timeouts, retries, backoff,
// prices, the fallback), the configured keys to redact, the adapters made so far and the scripts
// loaded, and the checks every call makes (is the provider known, which fallback applies).
import { ErrorCode, UserError } from '@aifactory/core';
import type { ModelGatewayConfig, ProviderConfig, ProviderKind } from './gateway-config.ts';
import type { ModelScript } from './model-script.ts';
import { parseModelId, type ModelTarget } from './model-target.ts';
import type { ModelCallOptions, UsageRecord } from './model-types.ts';
import type { PriceTable } from './price-table.ts';
import { defaultPrices } from './price-table.ts';
import type { ProviderAdapter } from './provider-adapter.ts';

export const scriptedProvider = 'scripted';

/** The gateway's configuration and state, shared by its parts (internal). */
export class GatewayContext {
  readonly config: ModelGatewayConfig;
  readonly providers: Record<string, ProviderConfig>;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly defaultMaxTokens: number;
  readonly prices: PriceTable;
  readonly secrets: string[];
  readonly fallback: ModelTarget | undefined;
  readonly adapters = new Map<string, ProviderAdapter>();
  readonly scriptCache = new Map<string, Promise<ModelScript>>();
  /** Usage booked so far, by team, agent, run and model. */
  readonly ledger = new Map<string, UsageRecord>();

  /** Validates the configuration before anything is called. */
  constructor(config: ModelGatewayConfig) {
    this.config = config;
    const providers = config.providers ?? {};
    this.providers = providers;
    for (const [name, provider] of Object.entries(providers)) {
      if (name === scriptedProvider)
        throw new UserError(
          ErrorCode.InputInvalid,
          `Provider name 'scripted' is reserved for the scripted provider; rename providers.scripted.`,
          { location: { path: 'providers.scripted' } },
        );
      if (kindOf(name, provider) === 'openai-compatible' && !provider.baseURL) {
        throw new UserError(
          ErrorCode.InputInvalid,
          `Provider '${name}' is OpenAI-compatible and needs a baseURL, e.g. http://localhost:11434/v1.`,
          { location: { path: `providers.${name}.baseURL` } },
        );
      }
    }
    this.timeoutMs = nonNegative(config.timeoutMs, 120_000, 'timeoutMs');
    this.maxRetries = nonNegative(config.maxRetries, 2, 'maxRetries');
    this.initialDelayMs = nonNegative(config.backoff?.initialDelayMs, 500, 'backoff.initialDelayMs');
    this.maxDelayMs = nonNegative(config.backoff?.maxDelayMs, 8000, 'backoff.maxDelayMs');
    this.defaultMaxTokens = nonNegative(config.defaultMaxTokens, 4096, 'defaultMaxTokens');
    this.prices = { ...defaultPrices, ...(config.prices ?? {}) };
    this.secrets = Object.values(providers)
      .map((provider) => provider.apiKey)
      .filter((key): key is string => typeof key === 'string' && key.length >= 6);
    this.fallback = config.fallback === undefined ? undefined : parseModelId(config.fallback);
    if (this.fallback) this.knownProvider(this.fallback);
  }

  knownProvider(target: ModelTarget): void {
    const providers = this.providers;
    if (
      target.provider === scriptedProvider ||
      target.provider === 'openai' ||
      target.provider === 'anthropic' ||
      Object.hasOwn(providers, target.provider)
    )
      return;
    const names = [...new Set(['openai', 'anthropic', ...Object.keys(providers), scriptedProvider])];
    throw new UserError(
      ErrorCode.ModelFailed,
      `Unknown model provider '${target.provider}' in '${target.provider}:${target.model}'; configured providers: ${names.join(', ')}.`,
    );
  }

  /** Removes every configured API key (and anything shaped like one) from a text. */
  redact(text: string): string {
    let result = text;
    for (const secret of this.secrets) result = result.split(secret).join('[redacted]');
    return result.replace(/\b(sk|key)-[A-Za-z0-9_-]{8,}/g, '$1-[redacted]');
  }

  fallbackFor(options: ModelCallOptions): ModelTarget | undefined {
    if (options.fallback === null) return undefined;
    if (options.fallback === undefined) return this.fallback;
    const target = parseModelId(options.fallback);
    this.knownProvider(target);
    return target;
  }
}

export function kindOf(name: string, provider: ProviderConfig): ProviderKind {
  return provider.kind ?? (name === 'openai' ? 'openai' : name === 'anthropic' ? 'anthropic' : 'openai-compatible');
}

function nonNegative(value: number | undefined, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0)
    throw new UserError(ErrorCode.InputInvalid, `${path} must be a non-negative number, got ${value}.`, { location: { path } });
  return value;
}
