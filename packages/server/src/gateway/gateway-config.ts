// How the LLM gateway is configured: the upstream providers and their credentials (which live
// only here, never in a request, a trace or a log), model aliases, fallbacks, the policies that
// govern gateway traffic, budgets and rate limits per team and feature, retries and prices.
// Read from a YAML file (AIFACTORY_GATEWAY_CONFIG, else <home>/gateway.yaml when it exists) over
// the defaults the environment gives (OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY,
// ANTHROPIC_BASE_URL); API keys are named by environment variable (`api_key_env`).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { durationMilliseconds } from '@aifactory/control';
import { ErrorCode, UserError } from '@aifactory/core';
import { defaultPrices, modelGatewayConfigFromEnv, type PriceTable, type ProviderKind } from '@aifactory/execution';
import { parse } from 'yaml';
import { z } from 'zod';

/** The two wire protocols the gateway speaks to apps, and to providers. */
export type GatewayWire = 'openai' | 'anthropic';

/** One upstream provider, as the gateway calls it. */
export interface GatewayProvider {
  /** Provider name, the prefix of `provider:model`. */
  name: string;
  /** Wire protocol it speaks (OpenAI-compatible servers speak `openai`). */
  wire: GatewayWire;
  /** Base URL: OpenAI-style with `/v1`, Anthropic without. */
  baseURL: string;
  /** API key; never logged, recorded or echoed. */
  apiKey?: string;
  /** Extra headers sent upstream. */
  headers: Record<string, string>;
}

/** A spending limit for a team, a feature, or a team's feature. */
export interface GatewayBudget {
  /** The team it applies to (absent: every team, each on its own). */
  team?: string;
  /** The feature it applies to (absent: every feature of the team together). */
  feature?: string;
  /** Most USD spent in one period. */
  maxCostUsd: number;
  /** Calendar period, in UTC. */
  period: 'day' | 'month';
}

/** A request rate for a team or a team's feature. */
export interface GatewayRateLimit {
  /** The team it applies to (absent: every team, each on its own). */
  team?: string;
  /** The feature it applies to (absent: the team's requests together). */
  feature?: string;
  /** Requests per minute (refilled continuously). */
  requestsPerMinute: number;
  /** Requests that may come at once (default: a tenth of a minute's worth, at least 1). */
  burst: number;
}

/** The gateway's whole configuration, validated. */
export interface GatewayConfig {
  /** Providers by name. */
  providers: Record<string, GatewayProvider>;
  /** Names apps may send as `model`, mapped to `provider:model`. */
  models: Record<string, string>;
  /** For a `provider:model`, the models to try in order when it is unavailable (each decided by the policy first). */
  fallbacks: Record<string, string[]>;
  /** Policy files or folders that govern gateway traffic; empty: every request is denied. */
  policyFiles: string[];
  budgets: GatewayBudget[];
  rateLimits: GatewayRateLimit[];
  /** Retries of one model after the first attempt, on 408, 409, 429, 5xx and connection errors (default 2). */
  maxRetries: number;
  /** Backoff between retries (default 200 ms doubling up to 4 s; a server's retry-after is honoured up to the ceiling). */
  backoff: { initialDelayMs: number; maxDelayMs: number };
  /** Time to the upstream's response headers, per attempt (default 60 s); a stream then runs as long as it runs. */
  timeoutMs: number;
  /** Prices (USD per 1M tokens) by `provider:model` or bare model name. */
  prices: PriceTable;
  /** Session runs: a run is sealed and a new one begun after this many requests or this age. */
  session: { maxRequests: number; maxAgeMs: number };
  /** Held requests: how long an approval may stay undecided when the policy names no expiry (default 1 h). */
  approvals: { expiresInMs: number };
  /** Where the configuration came from (for messages). */
  source: string;
}

const defaultBaseURLs: Record<'openai' | 'anthropic', string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};
const namePattern = /^[a-z][a-z0-9_-]{0,39}$/;
const labelPattern = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/;

const fileSchema = z.strictObject({
  providers: z
    .record(
      z.string(),
      z.strictObject({
        kind: z.enum(['openai', 'anthropic', 'openai-compatible']).optional(),
        base_url: z.url().optional(),
        api_key_env: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name such as OPENAI_API_KEY')
          .optional(),
        headers: z.record(z.string(), z.string()).optional(),
      }),
    )
    .optional(),
  models: z.record(z.string(), z.string()).optional(),
  fallbacks: z.record(z.string(), z.array(z.string()).min(1)).optional(),
  policies: z.array(z.string().min(1)).optional(),
  budgets: z
    .array(
      z.strictObject({
        team: z.string().regex(labelPattern).optional(),
        feature: z.string().regex(labelPattern).optional(),
        max_cost_usd: z.number().nonnegative(),
        period: z.enum(['day', 'month']).default('month'),
      }),
    )
    .optional(),
  rate_limits: z
    .array(
      z.strictObject({
        team: z.string().regex(labelPattern).optional(),
        feature: z.string().regex(labelPattern).optional(),
        requests_per_minute: z.number().positive(),
        burst: z.number().int().positive().optional(),
      }),
    )
    .optional(),
  max_retries: z.number().int().nonnegative().max(10).optional(),
  backoff: z.strictObject({ initial_delay: z.string().optional(), max_delay: z.string().optional() }).optional(),
  timeout: z.string().optional(),
  prices: z
    .record(z.string(), z.strictObject({ input_per_million: z.number().nonnegative(), output_per_million: z.number().nonnegative() }))
    .optional(),
  session: z.strictObject({ max_requests: z.number().int().positive().optional(), max_age: z.string().optional() }).optional(),
  approvals: z.strictObject({ expires_in: z.string().optional() }).optional(),
});

/** What a gateway configuration file holds (snake_case, as policies are written). */
export type GatewayConfigFile = z.input<typeof fileSchema>;

/** Where to read the configuration: the environment, the data directory and the policies folder. */
export interface GatewayConfigSources {
  /** Environment (API keys, AIFACTORY_GATEWAY_CONFIG). */
  env?: Record<string, string | undefined>;
  /** The workspace's data directory (looks for gateway.yaml there). */
  home?: string;
  /** The workspace's policies folder (default policies: its `gateway` subfolder, when present). */
  policiesDir?: string;
}

/** Reads the gateway configuration: the file when there is one, over the environment's defaults. */
export function loadGatewayConfig(sources: GatewayConfigSources = {}): GatewayConfig {
  const env = sources.env ?? process.env;
  const named = env.AIFACTORY_GATEWAY_CONFIG?.trim();
  const file = named
    ? path.resolve(named)
    : sources.home && existsSync(path.join(sources.home, 'gateway.yaml'))
      ? path.join(sources.home, 'gateway.yaml')
      : undefined;
  let content: GatewayConfigFile = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new UserError(ErrorCode.InputInvalid, `The gateway configuration ${file} cannot be read; check AIFACTORY_GATEWAY_CONFIG.`, {
        location: { file },
      });
    }
    content = (parse(text) ?? {}) as GatewayConfigFile;
  }
  return gatewayConfig(content, { env, ...(file ? { file } : {}), ...(sources.policiesDir ? { policiesDir: sources.policiesDir } : {}) });
}

/** Validates a configuration given as the file's object; relative policy paths resolve against the file's folder. */
export function gatewayConfig(
  content: GatewayConfigFile,
  options: { env?: Record<string, string | undefined>; file?: string; policiesDir?: string } = {},
): GatewayConfig {
  const source = options.file ?? 'the gateway configuration';
  const parsed = fileSchema.safeParse(content ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.');
    throw new UserError(ErrorCode.InputInvalid, `${source}: ${where ? `${where}: ` : ''}${issue.message}.`, {
      location: { ...(options.file ? { file: options.file } : {}), path: where },
    });
  }
  const file = parsed.data;
  const env = options.env ?? process.env;
  const fromEnv = modelGatewayConfigFromEnv(env).providers ?? {};
  const providers: Record<string, GatewayProvider> = {};
  for (const name of ['openai', 'anthropic'] as const) {
    const settings = fromEnv[name];
    providers[name] = {
      name,
      wire: name,
      baseURL: settings?.baseURL ?? defaultBaseURLs[name],
      ...(settings?.apiKey ? { apiKey: settings.apiKey } : {}),
      headers: {},
    };
  }
  for (const [name, settings] of Object.entries(file.providers ?? {})) {
    if (!namePattern.test(name))
      throw invalid(source, `providers.${name}`, `Provider name '${name}' is not valid; use lower-case letters, digits, '_' and '-'`);
    const kind: ProviderKind = settings.kind ?? (name === 'anthropic' ? 'anthropic' : name === 'openai' ? 'openai' : 'openai-compatible');
    const wire: GatewayWire = kind === 'anthropic' ? 'anthropic' : 'openai';
    const baseURL = settings.base_url ?? (kind === 'openai-compatible' ? undefined : (providers[name]?.baseURL ?? defaultBaseURLs[wire]));
    if (!baseURL)
      throw invalid(
        source,
        `providers.${name}.base_url`,
        `Provider '${name}' is OpenAI-compatible and needs a base_url, e.g. http://localhost:11434/v1`,
      );
    const apiKey = settings.api_key_env ? env[settings.api_key_env]?.trim() || undefined : providers[name]?.apiKey;
    if (settings.api_key_env && !apiKey)
      throw invalid(
        source,
        `providers.${name}.api_key_env`,
        `Provider '${name}' takes its key from ${settings.api_key_env}, which is not set`,
      );
    providers[name] = { name, wire, baseURL: baseURL.replace(/\/+$/, ''), ...(apiKey ? { apiKey } : {}), headers: settings.headers ?? {} };
  }
  const target = (id: string, where: string) => {
    const colon = id.indexOf(':');
    const provider = colon > 0 ? id.slice(0, colon) : '';
    if (!provider || colon === id.length - 1)
      throw invalid(source, where, `'${id}' must be written provider:model, e.g. openai:gpt-4o-mini`);
    if (!Object.hasOwn(providers, provider))
      throw invalid(
        source,
        where,
        `'${id}' names provider '${provider}', which is not configured; providers: ${Object.keys(providers).join(', ')}`,
      );
    return providers[provider]!;
  };
  const models: Record<string, string> = {};
  for (const [alias, id] of Object.entries(file.models ?? {})) {
    target(id, `models.${alias}`);
    models[alias] = id;
  }
  const fallbacks: Record<string, string[]> = {};
  for (const [primary, list] of Object.entries(file.fallbacks ?? {})) {
    const wire = target(primary, `fallbacks.${primary}`).wire;
    list.forEach((id, index) => {
      // A fallback answers in the wire the app speaks: no translation between protocols.
      if (target(id, `fallbacks.${primary}[${index}]`).wire !== wire)
        throw invalid(
          source,
          `fallbacks.${primary}[${index}]`,
          `Fallback '${id}' speaks another wire protocol than '${primary}' (${wire}); fall back within one protocol`,
        );
    });
    fallbacks[primary] = [...list];
  }
  const base = options.file ? path.dirname(options.file) : process.cwd();
  let policyFiles = (file.policies ?? []).map((entry) => path.resolve(base, entry));
  if (!file.policies && options.policiesDir && existsSync(path.join(options.policiesDir, 'gateway')))
    policyFiles = [path.join(options.policiesDir, 'gateway')];
  const millis = (value: string | undefined, fallback: number, where: string) => {
    if (value === undefined) return fallback;
    const result = durationMilliseconds(value);
    if (result === undefined) throw invalid(source, where, `'${value}' is not a duration; write e.g. 200ms, 30s, 5m, 1h`);
    return result;
  };
  const prices: PriceTable = { ...defaultPrices };
  for (const [key, price] of Object.entries(file.prices ?? {}))
    prices[key] = { inputPerMillion: price.input_per_million, outputPerMillion: price.output_per_million };
  return {
    providers,
    models,
    fallbacks,
    policyFiles,
    budgets: (file.budgets ?? []).map((budget) => ({
      ...(budget.team ? { team: budget.team } : {}),
      ...(budget.feature ? { feature: budget.feature } : {}),
      maxCostUsd: budget.max_cost_usd,
      period: budget.period,
    })),
    rateLimits: (file.rate_limits ?? []).map((limit) => ({
      ...(limit.team ? { team: limit.team } : {}),
      ...(limit.feature ? { feature: limit.feature } : {}),
      requestsPerMinute: limit.requests_per_minute,
      burst: limit.burst ?? Math.max(1, Math.ceil(limit.requests_per_minute / 10)),
    })),
    maxRetries: file.max_retries ?? 2,
    backoff: {
      initialDelayMs: millis(file.backoff?.initial_delay, 200, 'backoff.initial_delay'),
      maxDelayMs: millis(file.backoff?.max_delay, 4000, 'backoff.max_delay'),
    },
    timeoutMs: millis(file.timeout, 60_000, 'timeout'),
    prices,
    session: { maxRequests: file.session?.max_requests ?? 1000, maxAgeMs: millis(file.session?.max_age, 3_600_000, 'session.max_age') },
    approvals: { expiresInMs: millis(file.approvals?.expires_in, 3_600_000, 'approvals.expires_in') },
    source,
  };
}

function invalid(source: string, where: string, message: string): UserError {
  return new UserError(ErrorCode.InputInvalid, `${source}: ${where}: ${message}.`, { location: { path: where } });
}
