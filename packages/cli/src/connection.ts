// How a command reaches the workspace: straight to the store (a local administrator; `--as` names
// the principal), or through an HTTP server — a remote one named by --server / AIFACTORY_URL with
// AIFACTORY_TOKEN (the command then acts as the token's principal; `--as` is refused), or the
// `factory serve` that owns this home's embedded store, found by its local credential (a local
// administrator again, so `--as` still counts).
import { AiFactoryError, ErrorCode, SystemError, UserError } from '@aifactory/core';
import { parseServerSentEvents } from '@aifactory/client';
import { dataHome } from '@aifactory/store';
import { readLocalCredential, ServedStoreError, type LocalCredential } from '@aifactory/workspace/config';

/** A server the command talks to. */
export interface ServerConnection {
  kind: 'server';
  /** Base URL. */
  url: string;
  /** Bearer token. */
  token: string;
  /** option: --server; environment: AIFACTORY_URL; local: this home's `factory serve`. */
  via: 'option' | 'environment' | 'local';
  /** The local server's pid (via local only). */
  pid?: number;
}

/** Where a command goes. */
export type Connection = ServerConnection | { kind: 'store' };

let serverOption: string | undefined;

/** Set from the global --server option before a command runs. */
export function setServerOption(url: string | undefined): void {
  serverOption = url?.trim() || undefined;
}

/** Decides where commands go: --server / AIFACTORY_URL, else this home's running server, else the store. */
export function resolveConnection(env: NodeJS.ProcessEnv = process.env): Connection {
  const remote = serverOption ?? env.AIFACTORY_URL?.trim();
  if (remote) {
    const via = serverOption ? 'option' : 'environment';
    if (!URL.canParse(remote) || !/^https?:$/.test(new URL(remote).protocol)) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `${via === 'option' ? '--server' : 'AIFACTORY_URL'} '${remote}' is not an http(s) URL; give the server's base URL, e.g. http://127.0.0.1:8787.`,
      );
    }
    const token = env.AIFACTORY_TOKEN?.trim();
    if (!token)
      throw new UserError(
        ErrorCode.InputInvalid,
        `AIFACTORY_TOKEN is not set; a command sent to ${remote} needs an API token (the server's admin creates one with 'factory tokens create').`,
      );
    return { kind: 'server', url: remote.replace(/\/+$/, ''), token, via };
  }
  // Postgres takes many processes: no need to go through a server.
  if (env.DATABASE_URL?.trim()) return { kind: 'store' };
  const local = readLocalCredential(dataHome(env));
  return local ? localConnection(local) : { kind: 'store' };
}

function localConnection(local: LocalCredential): ServerConnection {
  return { kind: 'server', url: local.url, token: local.token, via: 'local', pid: local.pid };
}

/** "the server at URL" or "factory serve (pid N) at URL". */
export function describeServer(connection: ServerConnection): string {
  return connection.via === 'local' ? `factory serve (pid ${connection.pid}) at ${connection.url}` : `the server at ${connection.url}`;
}

/** Who a command acts as through a server, from its --as/--role options. */
export interface ActingAs {
  id: string;
  roles: string[];
}

/**
 * The principal to send: through the local server, the one --as names (a local administrator's
 * right); through a remote server none, since the token decides — an explicit --as is refused
 * rather than silently ignored.
 */
export function actingAs(
  connection: ServerConnection,
  as: string | undefined,
  roles: string[] | undefined,
  explicit: boolean,
): ActingAs | undefined {
  if (connection.via !== 'local') {
    if (explicit && as !== undefined) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `--as is not trusted over the network: requests to ${connection.url} act as the principal of AIFACTORY_TOKEN; drop --as (and --role), or use a token of '${as}'.`,
        { location: { path: '--as' } },
      );
    }
    return undefined;
  }
  return as === undefined ? undefined : { id: as, roles: roles ?? [] };
}

/** A JSON client of the HTTP API for the CLI; errors come back as UserError/SystemError with the server's code. */
export class ServerClient {
  readonly connection: ServerConnection;
  readonly #as: ActingAs | undefined;

  constructor(connection: ServerConnection, as?: ActingAs) {
    this.connection = connection;
    this.#as = as;
  }

  /** Sends one request and returns its JSON body. */
  async request<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
    const response = await this.#send(method, route, body, 'application/json');
    return (await response.json()) as T;
  }

  /** Sends a request answered with server-sent events; each event's JSON goes to onEvent. */
  async stream(route: string, body: unknown, onEvent: (event: { type: string } & Record<string, unknown>) => void): Promise<void> {
    const response = await this.#send('POST', route, body, 'text/event-stream');
    if (!response.body) return;
    for await (const message of parseServerSentEvents(response.body)) {
      try {
        onEvent(JSON.parse(message.data) as { type: string });
      } catch (error) {
        if (error instanceof AiFactoryError) throw error;
        // A line that is not JSON is not an event of ours: skip it.
      }
    }
  }

  async #send(method: string, route: string, body: unknown, accept: string): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.connection.token}`, accept };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#as) {
      headers['x-aifactory-as'] = this.#as.id;
      headers['x-aifactory-roles'] = this.#as.roles.join(',');
    }
    let response: Response;
    try {
      response = await fetch(`${this.connection.url}${route}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new SystemError(ErrorCode.StoreUnavailable, `Cannot reach ${describeServer(this.connection)}: ${(error as Error).message}.`, {
        cause: error,
      });
    }
    if (response.ok) return response;
    let problem: { code?: string; message?: string } = {};
    try {
      problem = ((await response.json()) as { error?: typeof problem }).error ?? {};
    } catch {
      // Not a JSON error body.
    }
    const message = problem.message ?? `HTTP ${response.status}`;
    if (response.status === 401)
      throw new UserError(ErrorCode.Forbidden, `${describeServer(this.connection)} refused the token (401): ${message}`);
    const code = Object.values(ErrorCode).includes(problem.code as ErrorCode)
      ? (problem.code as ErrorCode)
      : response.status >= 500
        ? ErrorCode.Internal
        : ErrorCode.InputInvalid;
    if (response.status >= 500) throw new SystemError(code, `${describeServer(this.connection)} failed: ${message}`);
    throw new UserError(code, message, { details: { status: response.status, server: this.connection.url } });
  }
}

/**
 * Runs a command through the server when one is in charge, else on the store. If the store turns
 * out to be owned by a `factory serve` that started meanwhile (its lock is held and its
 * credential appeared), the command goes through it: nothing was written by then.
 */
export async function viaServerOrStore<T>(
  work: { server: (connection: ServerConnection) => Promise<T>; store: () => Promise<T> },
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const connection = resolveConnection(env);
  if (connection.kind === 'server') return work.server(connection);
  try {
    return await work.store();
  } catch (error) {
    if (error instanceof ServedStoreError) return work.server(localConnection(error.credential));
    throw error;
  }
}
