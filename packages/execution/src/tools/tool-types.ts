// The shapes the tool host deals in: server configurations, tool descriptors and call results.

/** How to reach one MCP server: a command to spawn (stdio) or a Streamable HTTP URL. */
export interface McpServerConfig {
  /** Server name, the prefix of its tools' names (`fs` gives `fs.read_text_file`). */
  name: string;
  /** Executable of a stdio server (exclusive with `url`). */
  command?: string;
  /** Arguments of the command. */
  args?: string[];
  /** Environment of the command, on top of a minimal safe one (HOME, PATH, USER, ...); nothing else is inherited. */
  env?: Record<string, string>;
  /** Working directory of the command. */
  cwd?: string;
  /** URL of a Streamable HTTP server (exclusive with `command`). */
  url?: string;
  /** Headers sent with every HTTP request (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Globs over the bare tool names that are listed and callable; all when absent, none when empty. */
  allow?: string[];
  /** Globs over the bare tool names that are safe to run twice (retried when a crash leaves a call's outcome unknown). */
  idempotent?: string[];
  /** Default timeout of one call to this server's tools, in milliseconds. */
  timeoutMs?: number;
}

/** One tool on offer. */
export interface ToolDescriptor {
  /** `<server>.<tool>`, e.g. `fs.read_text_file`: what policies match and events record. */
  name: string;
  /** The name a model calls it by (`fs__read_text_file`); see `toModelToolName`. */
  modelName: string;
  /** Server name. */
  server: string;
  /** Tool name on its server. */
  tool: string;
  /** Human title the server gives it. */
  title?: string;
  /** What it does, as the server describes it. */
  description?: string;
  /** JSON Schema of its arguments. */
  inputSchema: Record<string, unknown>;
  /** JSON Schema of its structured result, when the server declares one. */
  outputSchema?: Record<string, unknown>;
  /** The server's hints (readOnlyHint, destructiveHint, idempotentHint, openWorldHint); hints, not guarantees. */
  annotations?: Record<string, unknown>;
}

/** Why a tool call did not produce a result. */
export type ToolErrorCode =
  /** The arguments do not match the tool's input schema; the server was not called. */
  | 'invalid_arguments'
  /** The server ran the tool and reported an error, or rejected the request. */
  | 'tool_error'
  /** No answer within the timeout. */
  | 'timeout'
  /** The server exited, was unreachable, or could not be (re)started. */
  | 'server_crashed'
  /** No tool by that name on any server. */
  | 'unknown_tool'
  /** The tool exists on its server but the allow-list leaves it out. */
  | 'not_allowed'
  /** The caller aborted the call. */
  | 'cancelled'
  /** The host was closed. */
  | 'host_closed';

/** The outcome of one tool call; failures are values, never exceptions. */
export type ToolResult =
  | {
      ok: true;
      /** The result as text for the model (text blocks joined; binary blocks described). */
      content: string;
      /** The server's structured result, when it returns one. */
      structured?: unknown;
      /** The MCP result as received. */
      raw: unknown;
      /** Wall time of the call. */
      durationMs: number;
    }
  | {
      ok: false;
      /** What went wrong, in one sentence. */
      error: { code: ToolErrorCode; message: string; details?: unknown };
      /** Wall time of the call. */
      durationMs: number;
    };

/** Options of `ToolHost.connect`. */
export interface ToolHostOptions {
  /** Deadline for starting a server and its handshake, in milliseconds (default 30000). */
  connectTimeoutMs?: number;
  /** Default timeout of one call, for servers without their own `timeoutMs` (default 60000). */
  timeoutMs?: number;
  /** Name and version the host introduces itself to servers with. */
  clientInfo?: { name: string; version: string };
  /** Receives each line a stdio server writes to stderr (by default only the last few are kept, for errors). */
  onServerLog?: (server: string, line: string) => void;
}

/** Options of one call. */
export interface ToolCallOptions {
  /** Aborts the call; the result is then a `cancelled` error. */
  signal?: AbortSignal;
  /** Timeout of this call in milliseconds, over the server's and the host's default. */
  timeoutMs?: number;
}
