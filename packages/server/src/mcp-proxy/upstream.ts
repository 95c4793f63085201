// The upstream MCP server the proxy governs: a command it starts (stdio) or a URL (Streamable
// HTTP), reached with the official SDK client. One connection serves every client session.
import { ErrorCode, UserError } from '@aifactory/core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';

/** Where the upstream server is. */
export type UpstreamSpec =
  | { kind: 'stdio'; command: string; args: string[]; env?: Record<string, string>; cwd?: string }
  | { kind: 'http'; url: URL; headers?: Record<string, string> };

/** Reads `--upstream`: an http(s) URL, or a command line (words split on blanks; quotes group). */
export function parseUpstream(text: string): UpstreamSpec {
  const trimmed = text.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      throw new UserError(
        ErrorCode.InputInvalid,
        `Upstream '${trimmed}' is not a valid URL; give an http(s) URL of a Streamable HTTP MCP endpoint or a command to start.`,
      );
    }
    return { kind: 'http', url };
  }
  const words = splitCommandLine(trimmed);
  if (words.length === 0)
    throw new UserError(
      ErrorCode.InputInvalid,
      'Upstream is empty; give a command that starts an MCP server over stdio (e.g. "npx -y @modelcontextprotocol/server-memory") or an http(s) URL.',
    );
  return { kind: 'stdio', command: words[0]!, args: words.slice(1) };
}

/** Splits a command line into words: blanks separate, single or double quotes group, backslash escapes. */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote: '"' | "'" | undefined;
  let started = false;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index]!;
    if (quote) {
      if (character === quote) quote = undefined;
      else if (character === '\\' && quote === '"' && index + 1 < text.length) current += text[++index];
      else current += character;
    } else if (character === '"' || character === "'") {
      quote = character;
      started = true;
    } else if (character === '\\' && index + 1 < text.length) {
      current += text[++index];
      started = true;
    } else if (/\s/.test(character)) {
      if (started) words.push(current);
      current = '';
      started = false;
    } else {
      current += character;
      started = true;
    }
  }
  if (quote) throw new UserError(ErrorCode.InputInvalid, `Upstream command has an unclosed ${quote} quote: ${text}`);
  if (started) words.push(current);
  return words;
}

/** A connected upstream. */
export interface Upstream {
  /** How it is reached, for records and messages (a command's arguments and URL credentials left out). */
  readonly description: string;
  /** Its tools, every page, as it lists them now. */
  listTools(): Promise<Tool[]>;
  /** Calls one tool (the call's cancellation signal is passed on). */
  callTool(name: string, args: Record<string, unknown>, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<CallToolResult>;
  /** The server's name and version as it announced them. */
  serverVersion(): { name: string; version: string } | undefined;
  /** Called when the upstream says its tool list changed. */
  onToolsChanged(listener: () => void): void;
  /** What the server offers, as it announced it (resources and prompts are passed through only when it offers them). */
  capabilities(): ServerCapabilities | undefined;
  /** Its resources, every page. */
  listResources(): Promise<Resource[]>;
  /** Its resource templates, every page. */
  listResourceTemplates(): Promise<ResourceTemplate[]>;
  /** Reads one resource. */
  readResource(uri: string, options?: { signal?: AbortSignal }): Promise<ReadResourceResult>;
  /** Its prompts, every page. */
  listPrompts(): Promise<Prompt[]>;
  /** Gets one prompt with its arguments filled in. */
  getPrompt(name: string, args: Record<string, string>, options?: { signal?: AbortSignal }): Promise<GetPromptResult>;
  /** Called when the upstream says its resource or prompt list changed. */
  onListChanged(list: 'resources' | 'prompts', listener: () => void): void;
  close(): Promise<void>;
}

/** Connects to the upstream with the official SDK client. */
export async function connectUpstream(
  spec: UpstreamSpec,
  options: { clientName?: string; connectTimeoutMs?: number; onStderr?: (line: string) => void } = {},
): Promise<Upstream> {
  const client = new Client({ name: options.clientName ?? 'aifactory-mcp-proxy', version: '0.1.0' }, { capabilities: {} });
  const listeners: Array<() => void> = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    for (const listener of listeners) listener();
  });
  const listListeners = { resources: [] as Array<() => void>, prompts: [] as Array<() => void> };
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
    for (const listener of listListeners.resources) listener();
  });
  client.setNotificationHandler(PromptListChangedNotificationSchema, () => {
    for (const listener of listListeners.prompts) listener();
  });
  const transport =
    spec.kind === 'stdio'
      ? new StdioClientTransport({
          command: spec.command,
          args: spec.args,
          env: { ...getDefaultEnvironment(), ...spec.env },
          ...(spec.cwd ? { cwd: spec.cwd } : {}),
          stderr: 'pipe',
        })
      : new StreamableHTTPClientTransport(spec.url, spec.headers ? { requestInit: { headers: spec.headers } } : {});
  if (transport instanceof StdioClientTransport) {
    transport.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) options.onStderr?.(line);
    });
  }
  const description =
    spec.kind === 'stdio' ? `stdio:${spec.command.split(/[\\/]/).at(-1)}` : `${spec.url.protocol}//${spec.url.host}${spec.url.pathname}`;
  try {
    await client.connect(transport, { timeout: options.connectTimeoutMs ?? 60_000 });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw new UserError(ErrorCode.NotFound, `Could not connect to the upstream MCP server (${description}): ${(error as Error).message}`, {
      cause: error,
    });
  }
  return {
    description,
    async listTools() {
      const tools: Tool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 100; page += 1) {
        const listed = await client.listTools(cursor ? { cursor } : {});
        tools.push(...listed.tools);
        cursor = listed.nextCursor;
        if (!cursor) break;
      }
      return tools;
    },
    async callTool(name, args, callOptions = {}) {
      return (await client.callTool({ name, arguments: args }, undefined, {
        ...(callOptions.signal ? { signal: callOptions.signal } : {}),
        timeout: callOptions.timeoutMs ?? 300_000,
      })) as CallToolResult;
    },
    serverVersion: () => client.getServerVersion(),
    onToolsChanged(listener) {
      listeners.push(listener);
    },
    capabilities: () => client.getServerCapabilities(),
    listResources: () =>
      everyPage(async (cursor) => {
        const page = await client.listResources(cursor ? { cursor } : {});
        return { items: page.resources, nextCursor: page.nextCursor };
      }),
    listResourceTemplates: () =>
      everyPage(async (cursor) => {
        const page = await client.listResourceTemplates(cursor ? { cursor } : {});
        return { items: page.resourceTemplates, nextCursor: page.nextCursor };
      }),
    readResource: (uri, callOptions = {}) =>
      client.readResource({ uri }, { ...(callOptions.signal ? { signal: callOptions.signal } : {}), timeout: 300_000 }),
    listPrompts: () =>
      everyPage(async (cursor) => {
        const page = await client.listPrompts(cursor ? { cursor } : {});
        return { items: page.prompts, nextCursor: page.nextCursor };
      }),
    getPrompt: (name, args, callOptions = {}) =>
      client.getPrompt({ name, arguments: args }, { ...(callOptions.signal ? { signal: callOptions.signal } : {}), timeout: 300_000 }),
    onListChanged(list, listener) {
      listListeners[list].push(listener);
    },
    close: () => client.close(),
  };
}

/** Every item of a paginated list (at most 100 pages, as tools are listed). */
async function everyPage<T>(page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let index = 0; index < 100; index += 1) {
    const listed = await page(cursor);
    items.push(...listed.items);
    cursor = listed.nextCursor;
    if (!cursor) break;
  }
  return items;
}
