// The provider adapters a gateway calls through, made on first use: the scripted provider (its
// scripts configured inline or loaded from the script directory), and the OpenAI, Anthropic and
// OpenAI-compatible ones, whose SDKs load on their first call.
import { join } from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import type { ProviderConfig } from './gateway-config.ts';
import { kindOf, scriptedProvider, type GatewayContext } from './gateway-context.ts';
import type { ModelScript } from './model-script.ts';
import { loadScript } from './model-script.ts';
import type { ProviderAdapter } from './provider-adapter.ts';
import { createScriptedAdapter } from './scripted-provider.ts';

const defaultBaseURLs = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com' } as const;
// SDKs insist on a key; servers without auth (Ollama, vLLM, local test servers) ignore it.
const placeholderKey = 'not-needed';

function resolveScript(context: GatewayContext, name: string): Promise<ModelScript> {
  const { config, scriptCache } = context;
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

/** The adapter for `provider`, made on first use. */
export function adapterFor(context: GatewayContext, provider: string): ProviderAdapter {
  const { adapters, providers, defaultMaxTokens } = context;
  const existing = adapters.get(provider);
  if (existing) return existing;
  let adapter: ProviderAdapter;
  if (provider === scriptedProvider) adapter = createScriptedAdapter((name) => resolveScript(context, name));
  else {
    const settings: ProviderConfig = Object.hasOwn(providers, provider) ? (providers[provider] ?? {}) : {};
    const kind = kindOf(provider, settings);
    const baseURL = settings.baseURL ?? (kind === 'openai-compatible' ? undefined : defaultBaseURLs[kind]);
    if (!baseURL) throw new UserError(ErrorCode.ModelFailed, `Provider '${provider}' has no baseURL.`);
    // The real services need a key; a configured base URL may be a server that needs none.
    if (!settings.apiKey && !settings.baseURL) {
      const variable = kind === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY';
      throw new UserError(ErrorCode.ModelFailed, `No API key for provider '${provider}'; set ${variable} or providers.${provider}.apiKey.`);
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
