// The tool host: connects to an agent's MCP servers, offers their allow-listed tools, validates
// every call's arguments against the tool's schema, and turns whatever a server does — answer,
// fail, hang, crash — into a ToolResult. A call never throws and never waits past its timeout.
import { ErrorCode, SystemError, UserError } from '@aifactory/core';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode as McpErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { compileAllowList } from './allow-list.ts';
import { ArgumentValidator } from './argument-validator.ts';
import { ServerConnection, ServerUnavailableError, type ServerStatus } from './server-connection.ts';
import { contentToText } from './tool-content.ts';
import { serverNameProblem, toModelToolName } from './tool-names.ts';
import type { McpServerConfig, ToolCallOptions, ToolDescriptor, ToolErrorCode, ToolHostOptions, ToolResult } from './tool-types.ts';

const defaultConnectTimeoutMs = 30_000;
const defaultCallTimeoutMs = 60_000;
const longestProbeMs = 2_000;

/** A tool the server offers, with whether the allow-list lets it through. */
export type ServerToolDescriptor = ToolDescriptor & {
  /** False when the server offers it but the allow-list leaves it out. */
  allowed: boolean;
};

/** Connects to MCP servers and calls their allow-listed tools. */
export class ToolHost {
  readonly #connections: Map<string, ServerConnection>;
  /** Allowed tools by name. A Map, so model-controlled names never reach a prototype. */
  readonly #tools: Map<string, ToolDescriptor>;
  readonly #byModelName: Map<string, ToolDescriptor>;
  readonly #everything: ServerToolDescriptor[];
  readonly #validator = new ArgumentValidator();
  readonly #defaultTimeoutMs: number;
  readonly #warnings: string[];
  #closed = false;
  /** Aborted by close(), so calls in flight end at once. */
  readonly #closing = new AbortController();

  private constructor(
    connections: Map<string, ServerConnection>,
    everything: ServerToolDescriptor[],
    warnings: string[],
    defaultTimeoutMs: number,
  ) {
    this.#connections = connections;
    this.#everything = everything;
    this.#warnings = warnings;
    this.#defaultTimeoutMs = defaultTimeoutMs;
    const allowed = everything.filter((descriptor) => descriptor.allowed).map(({ allowed: _allowed, ...descriptor }) => descriptor);
    this.#tools = new Map(allowed.map((descriptor) => [descriptor.name, descriptor]));
    this.#byModelName = new Map(allowed.map((descriptor) => [descriptor.modelName, descriptor]));
  }

  /**
   * Starts or connects to every server and lists its tools. Throws a UserError for a bad
   * configuration or a command that does not exist, a SystemError when a server fails to start;
   * either way every server already started is stopped again.
   */
  static async connect(servers: McpServerConfig[], options: ToolHostOptions = {}): Promise<ToolHost> {
    checkConfigs(servers);
    const settings = {
      connectTimeoutMs: options.connectTimeoutMs ?? defaultConnectTimeoutMs,
      clientInfo: options.clientInfo ?? { name: 'aifactory', version: '0.1.0' },
      ...(options.onServerLog ? { onServerLog: options.onServerLog } : {}),
    };
    const connections = new Map(servers.map((config) => [config.name, new ServerConnection(config, settings)]));
    const listed = await Promise.allSettled([...connections.values()].map((connection) => connection.listTools()));
    const failures = listed.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    if (failures.length > 0) {
      await Promise.all([...connections.values()].map((connection) => connection.close()));
      const first = failures[0];
      const message = first instanceof Error ? first.message : String(first);
      const details = {
        failures: failures.map((failure) => (failure instanceof Error ? failure.message : String(failure))),
        ...(first instanceof ServerUnavailableError && first.stderr ? { stderr: first.stderr } : {}),
      };
      const ErrorClass = first instanceof ServerUnavailableError && first.commandNotFound ? UserError : SystemError;
      throw new ErrorClass(ErrorCode.ToolFailed, message, { details, cause: first });
    }

    const everything: ServerToolDescriptor[] = [];
    const warnings: string[] = [];
    const modelNames = new Map<string, string>();
    servers.forEach((config, index) => {
      const outcome = listed[index];
      const tools = outcome?.status === 'fulfilled' ? outcome.value : [];
      const allowList = compileAllowList(config.allow);
      const toolNames = tools.map((tool) => tool.name);
      for (const pattern of allowList.unmatched(toolNames)) {
        warnings.push(
          `Server '${config.name}': allow pattern '${pattern}' matches none of its tools (${toolNames.join(', ') || 'it has none'}).`,
        );
      }
      for (const tool of tools) {
        const name = `${config.name}.${tool.name}`;
        const modelName = toModelToolName(name);
        const clash = modelNames.get(modelName);
        if (clash !== undefined)
          warnings.push(`Tools '${clash}' and '${name}' share the model name '${modelName}'; only '${clash}' is offered.`);
        const allowed = allowList.allows(tool.name) && clash === undefined;
        if (allowed) modelNames.set(modelName, name);
        everything.push({
          name,
          modelName,
          server: config.name,
          tool: tool.name,
          ...(tool.title ? { title: tool.title } : {}),
          ...(tool.description ? { description: tool.description } : {}),
          inputSchema: tool.inputSchema as Record<string, unknown>,
          ...(tool.outputSchema ? { outputSchema: tool.outputSchema as Record<string, unknown> } : {}),
          ...(tool.annotations ? { annotations: tool.annotations as Record<string, unknown> } : {}),
          allowed,
        });
      }
    });
    return new ToolHost(connections, everything, warnings, options.timeoutMs ?? defaultCallTimeoutMs);
  }

  /** The allowed tools, server by server in configuration order. */
  list(): ToolDescriptor[] {
    return [...this.#tools.values()];
  }

  /** Every tool the servers offer, allowed or not (for authoring allow-lists). */
  listAll(): ServerToolDescriptor[] {
    return [...this.#everything];
  }

  /** The allowed tool by name (`fs.read_text_file`), if any. */
  get(name: string): ToolDescriptor | undefined {
    return this.#tools.get(name);
  }

  /** The tool name behind a model name (`fs__read_text_file` gives `fs.read_text_file`), for allowed tools only. */
  fromModelToolName(modelName: string): string | undefined {
    return this.#byModelName.get(modelName)?.name;
  }

  /** Configuration problems found while connecting, such as allow patterns that match no tool. */
  get warnings(): string[] {
    return [...this.#warnings];
  }

  /** Each server's state: connected or not, restarts, the process id of a stdio server. */
  status(): ServerStatus[] {
    return [...this.#connections.values()].map((connection) => connection.status());
  }

  /** Checks arguments against the tool's input schema, without calling anything. */
  validate(name: string, args: unknown): { ok: true } | { ok: false; errors: string[] } {
    const found = this.#find(name);
    if (!found.ok) return { ok: false, errors: [found.message] };
    return this.#validator.validate(found.descriptor.name, found.descriptor.inputSchema, args);
  }

  /** Calls an allowed tool. Never throws: every failure is a ToolResult with `ok: false`. */
  async call(name: string, args: Record<string, unknown>, options: ToolCallOptions = {}): Promise<ToolResult> {
    const started = performance.now();
    const fail = (code: ToolErrorCode, message: string, details?: unknown): ToolResult => ({
      ok: false,
      error: { code, message, ...(details === undefined ? {} : { details }) },
      durationMs: elapsed(started),
    });
    if (this.#closed) return fail('host_closed', `The tool host is closed; '${name}' was not called.`);
    const found = this.#find(name);
    if (!found.ok) return fail(found.code, found.message);
    const descriptor = found.descriptor;
    const validation = this.#validator.validate(descriptor.name, descriptor.inputSchema, args);
    if (!validation.ok)
      return fail('invalid_arguments', `Invalid arguments for '${descriptor.name}': ${validation.errors.join('; ')}.`, {
        errors: validation.errors,
      });
    if (options.signal?.aborted) return fail('cancelled', `The call to '${descriptor.name}' was cancelled before it started.`);

    const connection = this.#connections.get(descriptor.server) as ServerConnection;
    const timeoutMs = options.timeoutMs ?? connection.config.timeoutMs ?? this.#defaultTimeoutMs;
    const deadline = new AbortController();
    const signal = AbortSignal.any([deadline.signal, this.#closing.signal, ...(options.signal ? [options.signal] : [])]);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    // Settles when the call is aborted, whatever the server or the SDK are doing at that moment.
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);

    let client: Client | undefined;
    try {
      client = await Promise.race([connection.client(), aborted]);
      const result = await Promise.race([
        client.callTool({ name: descriptor.tool, arguments: args }, undefined, { signal, timeout: timeoutMs + 1_000 }),
        aborted,
      ]);
      const content = contentToText(result.content);
      if (result.isError)
        return fail('tool_error', content || `Tool '${descriptor.name}' reported an error without a message.`, { raw: result });
      return {
        ok: true,
        content,
        ...(result.structuredContent === undefined ? {} : { structured: result.structuredContent }),
        raw: result,
        durationMs: elapsed(started),
      };
    } catch (error) {
      if (timedOut || (error instanceof McpError && error.code === McpErrorCode.RequestTimeout)) {
        connection.probeAfterTimeout(Math.min(timeoutMs, longestProbeMs));
        return fail('timeout', `Tool '${descriptor.name}' did not answer within ${timeoutMs} ms.`, { timeoutMs });
      }
      if (this.#closed) return fail('host_closed', `The tool host was closed during the call to '${descriptor.name}'.`);
      if (options.signal?.aborted) return fail('cancelled', `The call to '${descriptor.name}' was cancelled.`);
      if (error instanceof ServerUnavailableError) {
        return fail('server_crashed', error.message, error.stderr ? { stderr: error.stderr } : undefined);
      }
      const message = connection.scrub(error instanceof Error ? error.message : String(error));
      const lost =
        (error instanceof McpError && error.code === McpErrorCode.ConnectionClosed) ||
        (client !== undefined && !connection.connected) ||
        (!(error instanceof McpError) && (connection.transport === 'http' || /not connected/i.test(message)));
      if (lost) {
        // The transport failed under the call (a dead child, an unreachable URL, an expired
        // session): drop the client so the next call starts the server or a session afresh.
        if (client) connection.discard(client);
        const stderr = connection.transport === 'stdio' && connection.stderrTail ? { stderr: connection.stderrTail } : undefined;
        return fail(
          'server_crashed',
          `MCP server '${descriptor.server}' stopped answering during the call to '${descriptor.name}' (${message}); it is restarted on the next call.`,
          stderr,
        );
      }
      return fail(
        'tool_error',
        `Tool '${descriptor.name}' failed: ${message}`,
        error instanceof McpError ? { mcpCode: error.code } : undefined,
      );
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Stops every stdio server and ends every HTTP session. Calls after this fail with `host_closed`. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort(new Error('the tool host was closed'));
    await Promise.all([...this.#connections.values()].map((connection) => connection.close()));
  }

  #find(name: string): { ok: true; descriptor: ToolDescriptor } | { ok: false; code: 'unknown_tool' | 'not_allowed'; message: string } {
    const descriptor = this.#tools.get(name);
    if (descriptor) return { ok: true, descriptor };
    const available = [...this.#tools.keys()].join(', ') || 'none';
    if (this.#everything.some((candidate) => candidate.name === name)) {
      return { ok: false, code: 'not_allowed', message: `Tool '${name}' is not in its server's allow-list. Allowed tools: ${available}.` };
    }
    const byModelName = this.#byModelName.get(name);
    const hint = byModelName ? ` ('${name}' is the model name of '${byModelName.name}'.)` : '';
    return { ok: false, code: 'unknown_tool', message: `Unknown tool '${name}'. Available tools: ${available}.${hint}` };
  }
}

/** Rejects configurations that could never work, naming the offending field. */
function checkConfigs(servers: McpServerConfig[]): void {
  const seen = new Set<string>();
  servers.forEach((config, index) => {
    const fail = (field: string, message: string): never => {
      throw new UserError(ErrorCode.InputInvalid, message, { location: { path: `servers[${index}]${field ? `.${field}` : ''}` } });
    };
    const problem = serverNameProblem(String(config.name));
    if (problem) fail('name', problem);
    if (seen.has(config.name)) fail('name', `Server name '${config.name}' is used twice; each server needs its own name.`);
    seen.add(config.name);
    if (Boolean(config.command) === Boolean(config.url))
      fail('', `Server '${config.name}' needs exactly one of 'command' (stdio) or 'url' (Streamable HTTP).`);
    if (config.url) {
      let url: URL | undefined;
      try {
        url = new URL(config.url);
      } catch {
        fail('url', `Server '${config.name}' has an invalid URL.`);
      }
      if (url && url.protocol !== 'http:' && url.protocol !== 'https:')
        fail('url', `Server '${config.name}' URL must be http or https, got '${url.protocol}'.`);
      if (url && (url.username || url.password))
        fail('url', `Server '${config.name}' URL must not carry credentials; send them in headers (e.g. Authorization).`);
    }
    if (config.timeoutMs !== undefined && !(Number.isFinite(config.timeoutMs) && config.timeoutMs > 0))
      fail('timeoutMs', `Server '${config.name}' timeoutMs must be a positive number of milliseconds.`);
  });
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
