// The model gateway: every model call of the execution plane goes through `call()`, which picks
// the provider from `provider:model`, retries with backoff on 429/5xx, times out, falls back to
// a second model, prices the call and books it in the usage ledger. It does not govern: the
// runtime asks the control plane before calling it.
import { join } from 'node:path';
import { AiFactoryError, ErrorCode, SystemError, UserError } from '@aifactory/core';
import type { ModelGatewayConfig, ProviderConfig, ProviderKind } from './gateway-config.ts';
import type { ModelScript } from './model-script.ts';
import { loadScript } from './model-script.ts';
import type { MeteredModelGateway, ModelCallOptions, ModelRequest, ModelResponse, UsageFilter, UsageRecord } from './model-types.ts';
import type { PriceTable } from './price-table.ts';
import { computeCost, defaultPrices, findPrice } from './price-table.ts';
import type { ProviderAdapter, ProviderReply } from './provider-adapter.ts';
import { ProviderFailure } from './provider-adapter.ts';
import { createScriptedAdapter } from './scripted-provider.ts';

const defaultBaseURLs = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com' } as const;
const scriptedProvider = 'scripted';
// SDKs insist on a key; servers without auth (Ollama, vLLM, local test servers) ignore it.
const placeholderKey = 'not-needed';

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

/** Why one target (primary or fallback) gave up. */
interface TargetFailure {
  target: ModelTarget;
  attempts: number;
  /** What went wrong, for the message: `status 500 (Internal error)`, `timed out after 200 ms`. */
  what: string;
  status: number | undefined;
  timedOut: boolean;
  /** The provider is unavailable (overloaded, down, slow): a fallback may help. */
  unavailable: boolean;
  /** Trying the same provider again may help (a scripted error would only repeat itself). */
  retryable: boolean;
  /** The caller's configuration or request is at fault (bad key, unknown model). */
  userFault: boolean;
  /** Text was already streamed to the caller, so neither a retry nor a fallback may add more. */
  streamed: boolean;
}

class TargetFailed extends Error {
  readonly failure: TargetFailure;
  constructor(failure: TargetFailure) {
    super(failure.what);
    this.failure = failure;
  }
}

/** Creates the model gateway; validates the configuration before anything is called. */
export function createModelGateway(config: ModelGatewayConfig = {}): MeteredModelGateway {
  const providers = config.providers ?? {};
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
  const timeoutMs = nonNegative(config.timeoutMs, 120_000, 'timeoutMs');
  const maxRetries = nonNegative(config.maxRetries, 2, 'maxRetries');
  const initialDelayMs = nonNegative(config.backoff?.initialDelayMs, 500, 'backoff.initialDelayMs');
  const maxDelayMs = nonNegative(config.backoff?.maxDelayMs, 8000, 'backoff.maxDelayMs');
  const defaultMaxTokens = nonNegative(config.defaultMaxTokens, 4096, 'defaultMaxTokens');
  const prices: PriceTable = { ...defaultPrices, ...(config.prices ?? {}) };
  const secrets = Object.values(providers)
    .map((provider) => provider.apiKey)
    .filter((key): key is string => typeof key === 'string' && key.length >= 6);
  const fallback = config.fallback === undefined ? undefined : parseModelId(config.fallback);
  if (fallback) knownProvider(fallback);

  const adapters = new Map<string, ProviderAdapter>();
  const scriptCache = new Map<string, Promise<ModelScript>>();
  const ledger = new Map<string, UsageRecord>();

  function knownProvider(target: ModelTarget): void {
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

  function resolveScript(name: string): Promise<ModelScript> {
    const scripts = config.scripts ?? {};
    if (Object.hasOwn(scripts, name)) return Promise.resolve({ name, ...scripts[name] });
    const directory = config.scriptDirectory;
    // The name comes from an agent definition; keep it to one plain file name inside the directory.
    if (directory && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      const file = join(directory, `${name}.yaml`);
      let loaded = scriptCache.get(file);
      if (!loaded) {
        loaded = loadScript(file).then((script) => ({ ...script, name }));
        loaded.catch(() => scriptCache.delete(file));
        scriptCache.set(file, loaded);
      }
      return loaded;
    }
    const known = Object.keys(scripts);
    return Promise.reject(
      new UserError(
        ErrorCode.ModelFailed,
        `No model script named '${name}'${known.length > 0 ? `; known scripts: ${known.join(', ')}` : ''}${directory ? `, and ${join(directory, `${name}.yaml`)} is not a valid script name` : '; configure scripts or scriptDirectory'}.`,
      ),
    );
  }

  function adapterFor(provider: string): ProviderAdapter {
    const existing = adapters.get(provider);
    if (existing) return existing;
    let adapter: ProviderAdapter;
    if (provider === scriptedProvider) adapter = createScriptedAdapter(resolveScript);
    else {
      const settings: ProviderConfig = Object.hasOwn(providers, provider) ? (providers[provider] ?? {}) : {};
      const kind = kindOf(provider, settings);
      const baseURL = settings.baseURL ?? (kind === 'openai-compatible' ? undefined : defaultBaseURLs[kind]);
      if (!baseURL) throw new UserError(ErrorCode.ModelFailed, `Provider '${provider}' has no baseURL.`);
      // The real services need a key; a configured base URL may be a server that needs none.
      if (!settings.apiKey && !settings.baseURL) {
        const variable = kind === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY';
        throw new UserError(
          ErrorCode.ModelFailed,
          `No API key for provider '${provider}'; set ${variable} or providers.${provider}.apiKey.`,
        );
      }
      const apiKey = settings.apiKey ?? placeholderKey;
      const headers = settings.headers ? { headers: settings.headers } : {};
      adapter = lazyAdapter(async () =>
        kind === 'anthropic'
          ? (await import('./anthropic-provider.ts')).createAnthropicAdapter({ apiKey, baseURL, defaultMaxTokens, ...headers })
          : (await import('./openai-provider.ts')).createOpenAIAdapter({ apiKey, baseURL, official: kind === 'openai', ...headers }),
      );
    }
    adapters.set(provider, adapter);
    return adapter;
  }

  /** Removes every configured API key (and anything shaped like one) from a text. */
  function redact(text: string): string {
    let result = text;
    for (const secret of secrets) result = result.split(secret).join('[redacted]');
    return result.replace(/\b(sk|key)-[A-Za-z0-9_-]{8,}/g, '$1-[redacted]');
  }

  /** Calls one target with retries; resolves with the reply and the attempts it took. */
  async function callTarget(
    target: ModelTarget,
    request: ModelRequest,
    options: ModelCallOptions,
  ): Promise<{ reply: ProviderReply; attempts: number }> {
    const adapter = adapterFor(target.provider);
    for (let attempt = 1; ; attempt++) {
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
      let streamed = false;
      const onToken = options.onToken;
      try {
        const reply = await adapter.attempt({
          model: target.model,
          request,
          signal,
          ...(onToken
            ? {
                onToken: (text: string) => {
                  streamed = true;
                  onToken(text);
                },
              }
            : {}),
        });
        return { reply, attempts: attempt };
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (error instanceof AiFactoryError) throw error;
        const failure = classify(target, error, timedOut, attempt, streamed);
        const retryable = failure.retryable && !failure.streamed && attempt <= maxRetries;
        if (!retryable) throw new TargetFailed(failure);
        await sleep(retryDelay(attempt, error instanceof ProviderFailure ? error.retryAfterMs : undefined), options.signal);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  function classify(target: ModelTarget, error: unknown, timedOut: boolean, attempts: number, streamed: boolean): TargetFailure {
    const base = { target, attempts, streamed, status: undefined, timedOut: false, userFault: false };
    if (timedOut) return { ...base, what: `timed out after ${timeoutMs} ms`, timedOut: true, unavailable: true, retryable: true };
    if (error instanceof ProviderFailure) {
      const detail = redact(error.message);
      switch (error.kind) {
        case 'status': {
          const status = error.status ?? 0;
          const unavailable = status === 408 || status === 409 || status === 429 || status >= 500;
          return {
            ...base,
            what: `status ${status} (${detail})`,
            status,
            unavailable,
            retryable: unavailable,
            userFault: !unavailable && status >= 400 && status < 500,
          };
        }
        case 'connection':
          return { ...base, what: `connection failed (${detail})`, unavailable: true, retryable: true };
        case 'scripted':
          return { ...base, what: `scripted error (${detail})`, unavailable: true, retryable: false };
        case 'invalid-response':
          return { ...base, what: `invalid response: ${detail}`, unavailable: false, retryable: false };
      }
    }
    const message = error instanceof Error ? error.message : String(error);
    return { ...base, what: `unexpected error (${redact(message)})`, unavailable: false, retryable: false };
  }

  function retryDelay(attempt: number, retryAfterMs: number | undefined): number {
    // A server's retry-after is honoured up to the configured ceiling: a longer wait is better
    // spent on the fallback.
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, maxDelayMs);
    const exponential = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
    return exponential * (1 - Math.random() * 0.25);
  }

  function toError(primary: TargetFailure, secondary?: TargetFailure): AiFactoryError {
    const describe = (failure: TargetFailure) =>
      `${failure.target.provider}:${failure.target.model} failed after ${failure.attempts} attempt${failure.attempts === 1 ? '' : 's'}: ${failure.what}`;
    const detailsOf = (failure: TargetFailure) => ({
      provider: failure.target.provider,
      model: failure.target.model,
      status: failure.status ?? null,
      attempts: failure.attempts,
      timed_out: failure.timedOut,
      ...(failure.streamed ? { streamed: true } : {}),
    });
    let message = `Model call to ${describe(primary)}`;
    if (primary.streamed) message += ' after part of the answer was streamed';
    if (secondary) message += `; fallback ${describe(secondary)}`;
    message = `${redact(message).replace(/\.$/, '')}.`;
    const details = { ...detailsOf(primary), ...(secondary ? { fallback: detailsOf(secondary) } : {}) };
    const userFault = primary.userFault && (!secondary || secondary.userFault);
    return userFault
      ? new UserError(ErrorCode.ModelFailed, message, { details })
      : new SystemError(ErrorCode.ModelFailed, message, { details });
  }

  function book(response: ModelResponse): void {
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

  function respond(
    target: ModelTarget,
    reply: ProviderReply,
    extra: { attempts: number; started: number; fallbackReason?: string; options: ModelCallOptions },
  ): ModelResponse {
    const scripted = target.provider === scriptedProvider;
    const price = scripted ? { inputPerMillion: 0, outputPerMillion: 0 } : findPrice(prices, target.provider, target.model);
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
    book(response);
    return response;
  }

  function fallbackFor(options: ModelCallOptions): ModelTarget | undefined {
    if (options.fallback === null) return undefined;
    if (options.fallback === undefined) return fallback;
    const target = parseModelId(options.fallback);
    knownProvider(target);
    return target;
  }

  return {
    async call(request: ModelRequest, options: ModelCallOptions = {}): Promise<ModelResponse> {
      const started = performance.now();
      const primary = parseModelId(request.model);
      knownProvider(primary);
      fallbackFor(options);
      options.signal?.throwIfAborted();
      try {
        const { reply, attempts } = await callTarget(primary, request, options);
        return respond(primary, reply, { attempts, started, options });
      } catch (error) {
        if (!(error instanceof TargetFailed)) throw error;
        const first = error.failure;
        const target = fallbackFor(options);
        const useFallback =
          target && !first.streamed && first.unavailable && `${target.provider}:${target.model}` !== `${primary.provider}:${primary.model}`;
        if (!useFallback) throw toError(first);
        // Only an approved model may stand in: with a registry, an unregistered fallback is never called.
        if (config.registry && config.registry.find(`${target.provider}:${target.model}`) === undefined) {
          throw toError({
            ...first,
            what: `${first.what}; fallback ${target.provider}:${target.model} is not in the model registry (models/*.yaml), so it was not called`,
          });
        }
        const fallbackModel = `${target.provider}:${target.model}`;
        const fallbackReason = redact(
          `${primary.provider}:${primary.model} failed after ${first.attempts} attempt${first.attempts === 1 ? '' : 's'}: ${first.what}`,
        );
        if (options.beforeFallback && (await options.beforeFallback({ model: fallbackModel, reason: fallbackReason })) !== true)
          throw toError(first);
        try {
          const { reply, attempts } = await callTarget(target, { ...request, model: fallbackModel }, options);
          return respond(target, reply, { attempts: first.attempts + attempts, started, fallbackReason, options });
        } catch (fallbackError) {
          if (!(fallbackError instanceof TargetFailed)) throw fallbackError;
          throw toError(first, fallbackError.failure);
        }
      }
    },

    usage(filter: UsageFilter = {}): UsageRecord[] {
      return [...ledger.values()]
        .filter(
          (record) =>
            (filter.team === undefined || record.team === filter.team) &&
            (filter.agent === undefined || record.agent === filter.agent) &&
            (filter.runId === undefined || record.runId === filter.runId),
        )
        .map((record) => ({ ...record }))
        .sort((left, right) => compareKeys(left, right));
    },
  };
}

function compareKeys(left: UsageRecord, right: UsageRecord): number {
  for (const key of ['team', 'agent', 'runId', 'model'] as const) {
    const order = (left[key] ?? '').localeCompare(right[key] ?? '');
    if (order !== 0) return order;
  }
  return 0;
}

function kindOf(name: string, provider: ProviderConfig): ProviderKind {
  return provider.kind ?? (name === 'openai' ? 'openai' : name === 'anthropic' ? 'anthropic' : 'openai-compatible');
}

function nonNegative(value: number | undefined, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0)
    throw new UserError(ErrorCode.InputInvalid, `${path} must be a non-negative number, got ${value}.`, { location: { path } });
  return value;
}

function sleep(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, milliseconds);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * An adapter whose provider SDK is loaded on its first call. The SDKs are hundreds of modules each;
 * a process whose agents call no provider (scripted models) or only one never loads the others,
 * which keeps a worker's start, and so the recovery after it was killed, short.
 */
function lazyAdapter(load: () => Promise<ProviderAdapter>): ProviderAdapter {
  let adapter: Promise<ProviderAdapter> | undefined;
  return {
    async attempt(attempt) {
      adapter ??= load();
      return (await adapter).attempt(attempt);
    },
  };
}
