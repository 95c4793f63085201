// One MCP server as the tool host sees it: how to reach it (a child process over stdio, or a
// Streamable HTTP URL), the live client when there is one, and the lifecycle around it —
// connect with a deadline, notice a crash, restart on the next call, and put down a server that
// stops answering so the next call gets a fresh one.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaType, JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation';
import type { McpServerConfig } from './tool-types.ts';

/** How the host reaches a server. */
export type ServerTransportKind = 'stdio' | 'http';

/** Settings shared by every connection of one host. */
export interface ConnectionSettings {
  /** Deadline for starting a server and completing the MCP handshake. */
  connectTimeoutMs: number;
  /** Name and version the host introduces itself with. */
  clientInfo: { name: string; version: string };
  /** Receives each line a stdio server writes to stderr. */
  onServerLog?: (server: string, line: string) => void;
}

/** A snapshot of one server's state, for status displays and tests. */
export interface ServerStatus {
  /** Server name. */
  name: string;
  /** How the host reaches it. */
  transport: ServerTransportKind;
  /** Whether a live client is connected right now. */
  connected: boolean;
  /** How many times it was started again after a crash or a hang. */
  restarts: number;
  /** Process id of a stdio server's current process. */
  pid?: number;
}

/** Thrown when a server cannot be started or reached; the host turns it into a ToolResult. */
export class ServerUnavailableError extends Error {
  /** The server's last stderr lines, when it is a child process. */
  readonly stderr: string | undefined;
  /** True when the command itself was not found (a configuration mistake). */
  readonly commandNotFound: boolean;
  constructor(message: string, options: { cause?: unknown; stderr?: string; commandNotFound?: boolean }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServerUnavailableError';
    this.stderr = options.stderr;
    this.commandNotFound = options.commandNotFound ?? false;
  }
}

const stderrTailLimit = 4000;
const gracefulExitMs = 500;

/** A connected client and the transport under it. */
interface Live {
  client: Client;
  stdio?: StdioClientTransport;
  http?: StreamableHTTPClientTransport;
}

/** The lifecycle of one MCP server connection. */
export class ServerConnection {
  /** The server's configuration. */
  readonly config: McpServerConfig;
  /** How the host reaches it. */
  readonly transport: ServerTransportKind;
  readonly #settings: ConnectionSettings;
  #live: Live | undefined;
  #connecting: Promise<Client> | undefined;
  /** A liveness probe or a put-down in progress; the next call waits for it. */
  #settling: Promise<void> | undefined;
  #everConnected = false;
  #restarts = 0;
  #closed = false;
  #stderrTail = '';

  constructor(config: McpServerConfig, settings: ConnectionSettings) {
    this.config = config;
    this.transport = config.url ? 'http' : 'stdio';
    this.#settings = settings;
  }

  /** Whether a live client is connected. */
  get connected(): boolean {
    return this.#live !== undefined;
  }

  /** The last lines the server wrote to stderr (stdio servers only). */
  get stderrTail(): string {
    return this.#stderrTail;
  }

  /** A snapshot of the state. */
  status(): ServerStatus {
    const pid = this.#live?.stdio?.pid ?? undefined;
    return {
      name: this.config.name,
      transport: this.transport,
      connected: this.connected,
      restarts: this.#restarts,
      ...(pid ? { pid } : {}),
    };
  }

  /** The live client, starting (or restarting) the server first when there is none. */
  async client(): Promise<Client> {
    if (this.#settling) await this.#settling;
    if (this.#closed) throw new ServerUnavailableError(`MCP server '${this.config.name}' is closed.`, {});
    if (this.#live) return this.#live.client;
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Every tool the server offers, across pages. */
  async listTools(): Promise<Tool[]> {
    const client = await this.client();
    const tools: Tool[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: this.#settings.connectTimeoutMs });
      tools.push(...page.tools);
      cursor = page.nextCursor;
      // A server that hands out a cursor twice would otherwise keep us listing forever.
      if (cursor !== undefined && seen.has(cursor)) break;
      if (cursor !== undefined) seen.add(cursor);
    } while (cursor);
    return tools;
  }

  /**
   * After a call timed out: pings the server, and when it does not answer either, puts it down
   * (a stdio child is killed) so the next call starts a fresh one instead of waiting on a hung one.
   */
  probeAfterTimeout(probeTimeoutMs: number): void {
    const live = this.#live;
    if (!live || this.#settling) return;
    this.#settling = live.client
      .ping({ timeout: probeTimeoutMs })
      .then(
        () => undefined,
        () => this.#putDown(live),
      )
      .finally(() => {
        this.#settling = undefined;
      });
  }

  /** Forgets a client after a transport failure, so the next call reconnects. */
  discard(client: Client): void {
    const live = this.#live;
    if (live?.client === client) void this.#putDown(live);
  }

  /** Replaces this server's URL in a message by its display form (no query string, no credentials). */
  scrub(message: string): string {
    const url = this.config.url;
    if (!url) return message;
    let scrubbed = message.split(url).join(displayUrl(url));
    if (URL.canParse(url)) scrubbed = scrubbed.split(new URL(url).href).join(displayUrl(url));
    return scrubbed;
  }

  /** Closes the connection for good; a stdio server is stopped. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#connecting?.catch(() => undefined);
    await this.#settling;
    const live = this.#live;
    this.#live = undefined;
    if (!live) return;
    if (live.http) await live.http.terminateSession().catch(() => undefined);
    // The SDK closes stdin and waits two seconds before SIGTERM; a server busy with a call
    // rarely notices stdin closing, so ask it to stop sooner.
    const pid = live.stdio?.pid;
    const escalation = pid ? setTimeout(() => killProcess(pid, 'SIGTERM'), gracefulExitMs) : undefined;
    await live.client.close().catch(() => undefined);
    clearTimeout(escalation);
  }

  async #connect(): Promise<Client> {
    const client = new Client(this.#settings.clientInfo, { capabilities: {}, jsonSchemaValidator: new ValidatorOnFirstUse() });
    const transport = this.#createTransport();
    const live: Live = transport instanceof StdioClientTransport ? { client, stdio: transport } : { client, http: transport };
    client.onclose = () => {
      if (this.#live === live) this.#live = undefined;
    };
    // Transport hiccups (a dropped SSE stream, a write to a dead pipe) also surface as the
    // failure of the call in flight; here they only must not become unhandled errors.
    client.onerror = () => undefined;
    // A handshake that times out makes the SDK start closing the transport, after which it no
    // longer knows the child's pid, and its close waits seconds before any signal: a CLI that
    // exits meanwhile would leave the server running. Keep the pid from the moment it exists.
    let spawnedPid: number | null = null;
    if (live.stdio) {
      const stdio = live.stdio;
      const start = stdio.start.bind(stdio);
      stdio.start = async () => {
        await start();
        spawnedPid = stdio.pid;
      };
      // The SDK waits for 'drain' with a listener per write that met a full pipe: many runs calling
      // one server at once stack them up (MaxListenersExceededWarning). Writes wait their turn
      // here instead, in order, so at most one waits for the pipe.
      const send = stdio.send.bind(stdio);
      let writing: Promise<unknown> = Promise.resolve();
      stdio.send = (message) => {
        const sent = writing.then(() => send(message));
        writing = sent.catch(() => undefined);
        return sent;
      };
    }
    try {
      await client.connect(transport, { timeout: this.#settings.connectTimeoutMs });
    } catch (error) {
      const pid = live.stdio?.pid ?? spawnedPid;
      if (pid) killProcess(pid);
      await client.close().catch(() => undefined);
      const commandNotFound = (error as NodeJS.ErrnoException)?.code === 'ENOENT';
      const what = this.transport === 'http' ? `at ${displayUrl(this.config.url as string)}` : `with command '${this.config.command}'`;
      const reason = commandNotFound ? 'the command was not found' : this.scrub(error instanceof Error ? error.message : String(error));
      throw new ServerUnavailableError(
        `MCP server '${this.config.name}' could not be ${this.#everConnected ? 'restarted' : 'started'} ${what}: ${reason}.`,
        {
          cause: error,
          commandNotFound,
          ...(this.#stderrTail ? { stderr: this.#stderrTail } : {}),
        },
      );
    }
    if (this.#closed) {
      await client.close().catch(() => undefined);
      throw new ServerUnavailableError(`MCP server '${this.config.name}' is closed.`, {});
    }
    if (this.#everConnected) this.#restarts += 1;
    this.#everConnected = true;
    this.#live = live;
    return client;
  }

  #createTransport(): StdioClientTransport | StreamableHTTPClientTransport {
    const config = this.config;
    if (config.url) {
      return new StreamableHTTPClientTransport(new URL(config.url), {
        ...(config.headers ? { requestInit: { headers: config.headers } } : {}),
      });
    }
    const transport = new StdioClientTransport({
      command: config.command ?? '',
      args: config.args ?? [],
      ...(config.env ? { env: config.env } : {}),
      ...(config.cwd ? { cwd: config.cwd } : {}),
      stderr: 'pipe',
    });
    // Always drain stderr: an unread pipe fills up and blocks the server mid-write.
    let partial = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.#stderrTail = (this.#stderrTail + text).slice(-stderrTailLimit);
      const onServerLog = this.#settings.onServerLog;
      if (!onServerLog) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onServerLog(config.name, line.trimEnd());
    });
    return transport;
  }

  async #putDown(live: Live): Promise<void> {
    if (this.#live === live) this.#live = undefined;
    // A server that stopped answering will not exit politely either: kill it outright.
    const pid = live.stdio?.pid;
    if (pid) killProcess(pid);
    await live.client.close().catch(() => undefined);
  }
}

function killProcess(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** A URL for messages: credentials and query strings (which often carry tokens) left out. */
function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * The SDK's own validator of tool results (ajv), compiling a tool's output schema when its first
 * result is checked rather than when the tools are listed: the SDK compiles every listed tool's
 * schema up front, ~96 ms of CPU in a fresh `factory worker` for the reference filesystem server's
 * tools, most of which a run never calls. Results are checked as before; a schema ajv cannot
 * compile now fails the first call of that tool instead of the listing.
 */
class ValidatorOnFirstUse implements jsonSchemaValidator {
  #ajv: AjvJsonSchemaValidator | undefined;

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    let compiled: JsonSchemaValidator<T> | undefined;
    return (input) => (compiled ??= (this.#ajv ??= new AjvJsonSchemaValidator()).getValidator<T>(schema))(input);
  }
}
