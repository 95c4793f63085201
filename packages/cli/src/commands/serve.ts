// `factory serve`, `factory tokens` and `factory mcp serve`: the HTTP API over the workspace
// store, the API tokens it accepts, and agents served to MCP clients over stdio or HTTP.
import path from 'node:path';
import { consoleIsBuilt, ensureConsoleBuilt } from '@aifactory/console';
import { ErrorCode, UserError } from '@aifactory/core';
import { loadAgents } from '@aifactory/execution';
import {
  createApiToken,
  listApiTokens,
  oidcOptionsFromEnv,
  revokeApiToken,
  rotateApiToken,
  serveAgentsOverStdio,
  serverRoles,
  startServer,
  tokenLifetimeMs,
  type ApiTokenInfo,
  type OidcOptions,
} from '@aifactory/server';
import type { Store } from '@aifactory/store';
import { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, withJson, type CommonOptions } from '../command-kit.ts';
import { openWorkspace, RunQueue } from '@aifactory/workspace';
import {
  newLocalToken,
  openWorkspaceStore,
  removeLocalCredential,
  workspaceConfigFromEnv,
  workspaceNotificationDispatcher,
  writeLocalCredential,
} from '@aifactory/workspace/config';
import { ServerClient, viaServerOrStore } from '../connection.ts';

/** Hooks for tests. */
export interface ServeCommandOptions {
  /** Opens the store (default: the workspace store from the environment). */
  openStore?: () => Promise<Store>;
}

interface ServeOptions extends CommonOptions {
  /** false with --no-notifications. */
  notifications: boolean;
  port: string;
  host: string;
  agents: string;
  policies: string;
  mcp?: string[];
  publicMetrics?: boolean;
  shutdownTimeout: string;
  allowedHost?: string[];
  publicUrl?: string;
  trustProxy?: boolean;
  oidcIssuer?: string;
  oidcAudience?: string[];
  oidcRolesClaim?: string;
  oidcPrincipalClaim?: string;
  oidcJwksUri?: string;
  oidcConsoleClientId?: string;
  oidcConsoleScope?: string;
  console: boolean;
  gateway: boolean;
  queue?: boolean;
  reusePort?: boolean;
}

interface TokenCreateOptions extends CommonOptions {
  principal: string;
  role: string[];
  description?: string;
  expires?: string;
}

interface TokenRotateOptions extends CommonOptions {
  expires?: string;
  grace?: string;
}

interface McpServeOptions extends CommonOptions {
  http?: string;
  host: string;
  agents: string;
  principal?: string;
  role: string[];
}

const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
];

/** Parses a TCP port, naming the option on failure. */
function portOf(value: string, option: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UserError(ErrorCode.InputInvalid, `${option} '${value}' is not a port; give a number from 0 to 65535.`, {
      location: { path: option },
    });
  return port;
}

/** Store connections `factory serve` opens before it listens (Postgres). */
const servingConnections = 4;

/** Registers `factory serve`, `factory tokens` and `factory mcp`. */
export function registerServeCommands(program: Command, options: ServeCommandOptions = {}): void {
  const open = options.openStore ?? (() => openWorkspaceStore());
  // A server lives long enough for its cache to pay: the embedded store opens with initdb's 128MB of
  // shared buffers, where a command's store opens with 32MB (cheaper to open, and its cache dies with it).
  // On Postgres it opens the connections a burst of starts uses at once (two batches of starts in
  // flight, the follower's read, a token's look-up) before it listens, as a worker opens its own:
  // a backend started mid-burst costs Postgres 13-30 ms of CPU, taken from that burst.
  const openServing =
    options.openStore ?? (() => openWorkspaceStore(undefined, { pgliteSharedBuffers: '128MB', openConnections: servingConnections }));
  async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
    const store = await open();
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }

  withJson(program.command('serve'))
    .description(
      'Serve the HTTP API over the workspace store: runs with SSE streams, approvals, runs, verification, policies, /metrics and OpenAPI at /v1/openapi.json.',
    )
    .option('--port <port>', 'port to listen on (0 picks a free one)', '8787')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--agents <dir>', 'agents folder', 'agents')
    .option('--policies <dir>', 'policies folder (GET /v1/policies)', 'policies')
    .option('--mcp <agent>', 'also serve this agent at /mcp (repeatable or comma-separated)', collect)
    .option('--public-metrics', 'serve /metrics without a token (private networks only)')
    .option('--shutdown-timeout <ms>', 'how long shutdown waits for runs in flight', '30000')
    .option(
      '--queue',
      'hand runs to `factory worker` processes through the Postgres job queue instead of driving them here (needs DATABASE_URL)',
    )
    .option(
      '--reuse-port',
      'share --port with other `factory serve --reuse-port` processes on this machine (Linux; needs DATABASE_URL): the kernel spreads connections between them, so one server per core uses every core',
    )
    .option(
      '--allowed-host <name>',
      'a host name clients may reach this server by (Host header); on loopback only localhost, 127.0.0.1 and [::1] are allowed otherwise (repeatable)',
      collect,
    )
    .option('--public-url <url>', 'the base URL clients reach this server at (OAuth protected-resource metadata)')
    .option('--trust-proxy', 'take client addresses from X-Forwarded-For (only behind a proxy that sets it)')
    .option('--oidc-issuer <url>', 'also accept OAuth/OIDC access tokens (JWTs) from this issuer [AIFACTORY_OIDC_ISSUER]')
    .option(
      '--oidc-audience <aud>',
      "audience such tokens must carry, e.g. this server's URL (repeatable) [AIFACTORY_OIDC_AUDIENCE]",
      collect,
    )
    .option('--oidc-roles-claim <path>', 'claim holding the roles, e.g. realm_access.roles (default roles) [AIFACTORY_OIDC_ROLES_CLAIM]')
    .option('--oidc-principal-claim <name>', 'claim naming the principal (default sub) [AIFACTORY_OIDC_PRINCIPAL_CLAIM]')
    .option('--oidc-jwks-uri <url>', "the issuer's key set (default: from its discovery document) [AIFACTORY_OIDC_JWKS_URI]")
    .option(
      '--oidc-console-client-id <id>',
      "the console's public client at the issuer: sign-in by authorization code with PKCE, redirect <url>/sign-in/callback [AIFACTORY_OIDC_CONSOLE_CLIENT_ID]",
    )
    .option('--oidc-console-scope <scopes>', 'scopes the console asks for (default openid) [AIFACTORY_OIDC_CONSOLE_SCOPE]')
    .option('--no-console', 'serve the API only, not the console web app at /')
    .option(
      '--no-notifications',
      'do not deliver the notification outbox from this server (another server or `factory notifications deliver --watch` does)',
    )
    .option('--no-gateway', 'serve no LLM gateway at /gateway/openai/v1 and /gateway/anthropic')
    .addHelpText(
      'after',
      '\nEvery /v1 route needs a bearer token: create one with `factory tokens create --principal <id> --role operator [--expires 30d]`,' +
        '\nor, with --oidc-issuer, an access token of your identity provider (roles from --oidc-roles-claim).' +
        '\nOn a loopback interface, requests naming another Host or a foreign Origin get 403 (DNS-rebinding protection).' +
        '\nOn the embedded store, serve owns it (no other process may open it) and writes a local credential, <home>/server.json' +
        '\n(mode 0600: URL, pid, a secret), so `factory` commands in another terminal go through this server; see docs/serving.md.' +
        '\nThe server delivers notifications (Slack, e-mail, webhooks from notifications.yaml) in the background unless --no-notifications.' +
        '\nWith --json, one line on stdout once listening: {"url","host","port","openapi","mcp","pid","console"}; logs stay on stderr.' +
        '\nExit codes: 2 bad options, 3 the port is taken or the store is unavailable (or owned by another process).' +
        '\nWith --queue (Postgres), runs are queued for `factory worker` processes: the server records each start, streams what the' +
        '\nworker records, and queues resumes and recoveries; see docs/deployment.md.' +
        '\nCtrl-C (SIGINT) or SIGTERM shuts down gracefully: new runs are refused, runs in flight get --shutdown-timeout to park or end,' +
        '\nthen those still going stop at their next step with a fresh checkpoint and are handed back to other processes.' +
        '\nLLM gateway (docs/gateway.md): apps point the OpenAI SDK at <url>/gateway/openai/v1 and the Anthropic SDK at <url>/gateway/anthropic,' +
        '\nwith a token made by `factory tokens create --principal <app> --role gateway --role team.<team>`; provider keys come from' +
        '\nOPENAI_API_KEY / ANTHROPIC_API_KEY or AIFACTORY_GATEWAY_CONFIG (else <home>/gateway.yaml); <policies>/gateway governs it.',
    )
    .action(
      action(async (serveOptions: ServeOptions) => {
        const port = portOf(serveOptions.port, '--port');
        const shutdownTimeoutMs = Number(serveOptions.shutdownTimeout);
        if (!Number.isFinite(shutdownTimeoutMs) || shutdownTimeoutMs < 0)
          throw new UserError(
            ErrorCode.InputInvalid,
            `--shutdown-timeout '${serveOptions.shutdownTimeout}' is not a number of milliseconds.`,
          );
        const oidc = oidcOptionsOf(serveOptions);
        // Refused before the store is opened: the embedded store cannot be shared with workers.
        if (serveOptions.queue && !process.env.DATABASE_URL?.trim()) {
          throw new UserError(
            ErrorCode.InputInvalid,
            '--queue needs a Postgres store (set DATABASE_URL): workers are other processes, and the embedded store belongs to one process. Without --queue, serve drives runs itself.',
            { location: { path: '--queue' } },
          );
        }
        if (serveOptions.reusePort && !process.env.DATABASE_URL?.trim()) {
          throw new UserError(
            ErrorCode.InputInvalid,
            '--reuse-port needs a Postgres store (set DATABASE_URL): servers sharing a port are separate processes, and the embedded store belongs to one process.',
            { location: { path: '--reuse-port' } },
          );
        }
        // The console is built by `pnpm install`; a checkout whose install skipped scripts builds it here, once.
        let consoleDir: string | undefined;
        if (serveOptions.console) {
          if (!consoleIsBuilt()) process.stderr.write('building the console (packages/console) once…\n');
          consoleDir = await ensureConsoleBuilt().catch((error: Error) => {
            process.stderr.write(`${pc.yellow('warning')} the console could not be built (${error.message}); serving the API only.\n`);
            return undefined;
          });
        }
        const config = workspaceConfigFromEnv(process.env, { agentsDir: serveOptions.agents, policiesDir: serveOptions.policies });
        const store = await openServing();
        let queue: RunQueue | undefined;
        if (serveOptions.queue) {
          try {
            queue = await RunQueue.forStore(store, {
              databaseUrl: workspaceConfigFromEnv().store.databaseUrl,
              what: 'factory serve --queue',
            });
          } catch (error) {
            await store.close();
            throw error;
          }
        }
        // The CLI in another terminal goes through this server while it owns the embedded store.
        const localToken = store.kind === 'pglite' ? newLocalToken() : undefined;
        let server;
        try {
          server = await startServer({
            store,
            ...(localToken ? { localToken } : {}),
            // The workspace configured from the environment, as `factory run` uses it: one store, one seal key.
            config,
            port,
            host: serveOptions.host,
            ...(serveOptions.reusePort ? { reusePort: true } : {}),
            shutdownTimeoutMs,
            ...(consoleDir ? { consoleDir } : {}),
            ...(serveOptions.mcp ? { mcpAgents: serveOptions.mcp } : {}),
            ...(serveOptions.publicMetrics ? { publicMetrics: true } : {}),
            ...(serveOptions.allowedHost ? { allowedHosts: serveOptions.allowedHost } : {}),
            ...(serveOptions.publicUrl ? { publicUrl: serveOptions.publicUrl } : {}),
            ...(serveOptions.trustProxy ? { trustProxy: true } : {}),
            ...(oidc ? { oidc } : {}),
            ...(serveOptions.gateway ? {} : { llmGateway: false as const }),
            ...(queue ? { queue } : {}),
          });
        } catch (error) {
          await queue?.close();
          await store.close();
          throw error;
        }
        const home = workspaceConfigFromEnv().home;
        const forgetCredential = () => localToken && removeLocalCredential(home, localToken);
        if (localToken) {
          const loopback = /^(0\.0\.0\.0|::|\[::\])$/.test(serveOptions.host)
            ? server.url.replace(/\/\/[^:/]+|\/\/\[[^\]]+\]/, '//127.0.0.1')
            : server.url;
          writeLocalCredential(home, { url: loopback, token: localToken });
          process.once('exit', forgetCredential);
        }
        // Notifications reach people from here: the outbox is delivered in the background while the server runs.
        const dispatcher = serveOptions.notifications
          ? await workspaceNotificationDispatcher(store, config, {
              log: (line) => process.stderr.write(`${line}\n`),
              onError: (error) =>
                process.stderr.write(`${pc.yellow('warning')}: notification delivery round failed: ${(error as Error).message}\n`),
            }).catch(async (error: unknown) => {
              await server.close();
              await store.close();
              throw error;
            })
          : undefined;
        dispatcher?.start();
        process.stderr.write(
          `${pc.green('serving')} ${server.url}  (${consoleDir ? `console ${server.url}/, ` : ''}OpenAPI ${server.url}/v1/openapi.json${serveOptions.mcp ? `, MCP ${server.url}/mcp` : ''}${server.llmGateway ? `, LLM gateway ${server.url}/gateway/openai/v1 and ${server.url}/gateway/anthropic` : ''}${queue ? `, runs queued for workers in ${queue.schema}` : ''})\n`,
        );
        if (serveOptions.json)
          process.stdout.write(
            `${JSON.stringify({ ...listening(server.url, serveOptions.mcp ?? []), console: consoleDir ? `${server.url}/` : null })}\n`,
          );
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            process.stderr.write(`${signal}: shutting down (runs in flight get ${shutdownTimeoutMs} ms to reach a checkpoint)\n`);
            resolve();
          };
          process.once('SIGINT', () => stop('SIGINT'));
          process.once('SIGTERM', () => stop('SIGTERM'));
        });
        forgetCredential();
        await dispatcher?.stop();
        const { unfinishedRuns } = await server.close();
        await queue?.close();
        await store.close();
        if (unfinishedRuns > 0)
          process.stderr.write(
            `${pc.yellow('warning')}: ${unfinishedRuns} run(s) were still in flight; they resume from their last checkpoint.\n`,
          );
        process.stderr.write('stopped\n');
      }),
    );

  const tokens = program
    .command('tokens')
    .description(
      'Create, list, rotate and revoke API tokens of the HTTP API (stored as sha256 hashes; a token is shown once; tokens may expire).',
    )
    .addHelpText(
      'after',
      `\nServer roles: ${serverRoles.join(', ')}. A token may also carry policy roles (e.g. ops-lead) that approvals check.`,
    );

  withJson(
    tokens
      .command('create')
      .description('Create a token bound to a principal and roles; prints the secret once.')
      .requiredOption('--principal <id>', 'who the token acts for, e.g. alice@acme.example')
      .requiredOption('--role <role>', `a role (repeatable or comma-separated): ${serverRoles.join(', ')} or a policy role`, collect)
      .option('--description <text>', 'what the token is for')
      .option('--expires <duration>', 'lifetime, e.g. 30d, 12h or 90m, or never', 'never'),
  ).action(
    action(async (createOptions: TokenCreateOptions) => {
      const expiresInMs = tokenLifetimeMs(createOptions.expires ?? 'never');
      const input = {
        principal: createOptions.principal,
        roles: createOptions.role,
        ...(createOptions.description ? { description: createOptions.description } : {}),
        ...(expiresInMs === undefined ? {} : { expiresInMs }),
      };
      const created = await viaServerOrStore<CreatedToken>({
        server: async (connection) => withDates(await new ServerClient(connection).request<CreatedToken>('POST', '/v1/tokens', input)),
        store: () => withStore((store) => createApiToken(store, input)),
      });
      emit(
        createOptions,
        created,
        (value) =>
          `${pc.green('created')} ${value.id} for ${value.principal} (${value.roles.join(', ')}), ${expiryText(value)}\n${value.token}\nStore it now: it is not shown again.`,
      );
    }),
  );

  withJson(tokens.command('list').description('List tokens (never their secrets).')).action(
    action(async (listOptions: CommonOptions) => {
      const list = await viaServerOrStore<ApiTokenInfo[]>({
        server: async (connection) =>
          (await new ServerClient(connection).request<{ tokens: ApiTokenInfo[] }>('GET', '/v1/tokens')).tokens.map(withDates),
        store: () => withStore((store) => listApiTokens(store)),
      });
      emit(listOptions, { tokens: list }, ({ tokens: rows }) =>
        rows.length === 0 ? 'No tokens.' : rows.map((row) => tokenLine(row)).join('\n'),
      );
    }),
  );

  withJson(
    tokens
      .command('rotate')
      .description(
        'Replace a live token: a new secret with the same principal, roles and description; the old one is revoked (or expires after --grace).',
      )
      .argument('<id>', 'token id, e.g. tok_1a2b3c4d5e6f')
      .option('--expires <duration>', "lifetime of the new token, e.g. 30d, or never (default: the old token's lifetime)")
      .option('--grace <duration>', 'keep the old token working this long so clients can switch, e.g. 1h (default: revoke at once)'),
  ).action(
    action(async (id: string, rotateOptions: TokenRotateOptions) => {
      const expiresInMs = rotateOptions.expires === undefined ? undefined : (tokenLifetimeMs(rotateOptions.expires) ?? null);
      const graceMs = rotateOptions.grace === undefined ? 0 : tokenLifetimeMs(rotateOptions.grace, '--grace');
      if (graceMs === undefined)
        throw new UserError(
          ErrorCode.InputInvalid,
          "--grace 'never' would keep the old token forever; give a duration such as 1h, or revoke it.",
          { location: { path: '--grace' } },
        );
      type Rotated = Awaited<ReturnType<typeof rotateApiToken>>;
      const rotated = await viaServerOrStore<Rotated>({
        server: async (connection) => {
          const answer = await new ServerClient(connection).request<Rotated>('POST', `/v1/tokens/${encodeURIComponent(id)}/rotate`, {
            graceMs,
            ...(expiresInMs === undefined ? {} : { expiresInMs }),
          });
          return { created: withDates(answer.created), previous: withDates(answer.previous) };
        },
        store: () => withStore((store) => rotateApiToken(store, id, { graceMs, ...(expiresInMs === undefined ? {} : { expiresInMs }) })),
      });
      emit(rotateOptions, rotated, ({ created, previous }) => {
        const old = previous.revokedAt ? `${previous.id} revoked` : `${previous.id} ${expiryText(previous)}`;
        return `${pc.green('rotated')} ${old}; ${created.id} for ${created.principal} (${created.roles.join(', ')}), ${expiryText(created)}\n${created.token}\nStore it now: it is not shown again.`;
      });
    }),
  );

  withJson(
    tokens
      .command('revoke')
      .description('Revoke a token by id; requests with it get 401 at once on this store.')
      .argument('<id>', 'token id, e.g. tok_1a2b3c4d5e6f'),
  ).action(
    action(async (id: string, revokeOptions: CommonOptions) => {
      const revoked = await viaServerOrStore<ApiTokenInfo>({
        server: async (connection) =>
          withDates(await new ServerClient(connection).request<ApiTokenInfo>('POST', `/v1/tokens/${encodeURIComponent(id)}/revoke`)),
        store: () => withStore((store) => revokeApiToken(store, id)),
      });
      emit(revokeOptions, revoked, (value) => `${pc.green('revoked')} ${value.id} (${value.principal})`);
    }),
  );

  const mcp = program.command('mcp').description('Serve agents to MCP clients, or govern an MCP server as a proxy (mcp proxy).');
  withJson(mcp.command('serve'))
    .description(
      'Serve agents as MCP tools over stdio (default) or Streamable HTTP (--http <port>, at /mcp, bearer token required). Calls run governed; a held action returns pending_approval with the approval id.',
    )
    .argument('<agent...>', 'agent names in the agents folder')
    .option('--http <port>', 'serve Streamable HTTP on this port instead of stdio')
    .option('--host <host>', 'interface for --http', '127.0.0.1')
    .option('--agents <dir>', 'agents folder', 'agents')
    .option('--principal <id>', 'stdio: the principal calls run as (default mcp:<client name>)')
    .option('--role <role>', 'stdio: roles of that principal (repeatable)', collect, [])
    .addHelpText(
      'after',
      "\nstdio writes only MCP messages on stdout; diagnostics go to stderr. Over HTTP the principal is the API token's, or with AIFACTORY_OIDC_ISSUER and AIFACTORY_OIDC_AUDIENCE set, an OIDC access token's (see docs/serving.md)." +
        '\nWith --http and --json, one line on stdout once listening: {"url","host","port","mcp","agents","pid"}. --json is refused over stdio, whose stdout carries MCP messages.',
    )
    .action(
      action(async (names: string[], mcpOptions: McpServeOptions) => {
        if (mcpOptions.json && mcpOptions.http === undefined)
          throw new UserError(ErrorCode.InputInvalid, '--json needs --http: over stdio, stdout carries only MCP messages.', {
            location: { path: '--json' },
          });
        const agentsDir = path.resolve(mcpOptions.agents);
        const agents = await loadAgents(agentsDir);
        const unknown = names.filter((name) => !agents.some((agent) => agent.name === name));
        if (unknown.length > 0)
          throw new UserError(
            ErrorCode.NotFound,
            `No agent named ${unknown.map((name) => `'${name}'`).join(', ')} in ${agentsDir}; agents there: ${agents.map((agent) => agent.name).join(', ') || 'none'}.`,
          );
        const store = await openServing();
        if (mcpOptions.http !== undefined) {
          const oidc = oidcOptionsFromEnv();
          const server = await startServer({
            store,
            config: workspaceConfigFromEnv(process.env, { agentsDir }),
            port: portOf(mcpOptions.http, '--http'),
            host: mcpOptions.host,
            mcpAgents: names,
            ...(oidc ? { oidc } : {}),
          }).catch(async (error: unknown) => {
            await store.close();
            throw error;
          });
          process.stderr.write(`${pc.green('serving')} MCP at ${server.url}/mcp (${names.join(', ')})\n`);
          if (mcpOptions.json) process.stdout.write(`${JSON.stringify({ ...listening(server.url, names), agents: names })}\n`);
          await new Promise<void>((resolve) => {
            process.once('SIGINT', () => resolve());
            process.once('SIGTERM', () => resolve());
          });
          await server.close();
          await store.close();
          return;
        }
        const workspace = await openWorkspace(workspaceConfigFromEnv(process.env, { agentsDir }), { store });
        const served = agents.filter((agent) => names.includes(agent.name));
        const server = await serveAgentsOverStdio({
          workspace,
          agents: served,
          store,
          ...(mcpOptions.principal
            ? { principal: { id: mcpOptions.principal, roles: mcpOptions.role.length > 0 ? mcpOptions.role : ['operator'] } }
            : {}),
        });
        process.stderr.write(`serving ${names.join(', ')} over stdio\n`);
        await new Promise<void>((resolve) => {
          server.server.onclose = () => resolve();
          process.stdin.once('end', () => resolve());
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await server.close().catch(() => undefined);
        await workspace.close();
        await store.close();
      }),
    );
}

/** A `factory` program with only these commands (tests run it in-process; main.ts registers them with the rest). */
export function serveProgram(options: ServeCommandOptions = {}): Command {
  const program = new Command('factory');
  registerServeCommands(program, options);
  return program;
}

/** The line `serve --json` prints once listening: where to reach the server. */
function listening(
  url: string,
  mcpAgents: string[],
): { url: string; host: string; port: number; openapi: string; mcp: string | null; pid: number } {
  const parsed = new URL(url);
  return {
    url,
    host: parsed.hostname,
    port: Number(parsed.port),
    openapi: `${url}/v1/openapi.json`,
    mcp: mcpAgents.length > 0 ? `${url}/mcp` : null,
    pid: process.pid,
  };
}

/** OIDC settings from the flags, each falling back to its AIFACTORY_OIDC_* variable. */
function oidcOptionsOf(options: ServeOptions): OidcOptions | undefined {
  const env = oidcOptionsFromEnv();
  const issuer = options.oidcIssuer ?? env?.issuer;
  if (!issuer) {
    if (
      options.oidcAudience ||
      options.oidcRolesClaim ||
      options.oidcPrincipalClaim ||
      options.oidcJwksUri ||
      options.oidcConsoleClientId ||
      options.oidcConsoleScope
    ) {
      throw new UserError(ErrorCode.InputInvalid, 'The --oidc-* options need --oidc-issuer (or AIFACTORY_OIDC_ISSUER).', {
        location: { path: '--oidc-issuer' },
      });
    }
    return undefined;
  }
  const rolesClaim = options.oidcRolesClaim ?? env?.rolesClaim;
  const principalClaim = options.oidcPrincipalClaim ?? env?.principalClaim;
  const jwksUri = options.oidcJwksUri ?? env?.jwksUri;
  const consoleClientId = options.oidcConsoleClientId ?? env?.consoleClientId;
  const consoleScope = options.oidcConsoleScope ?? env?.consoleScope;
  return {
    issuer,
    audience: options.oidcAudience ?? env?.audience ?? [],
    ...(rolesClaim ? { rolesClaim } : {}),
    ...(principalClaim ? { principalClaim } : {}),
    ...(jwksUri ? { jwksUri } : {}),
    ...(consoleClientId ? { consoleClientId } : {}),
    ...(consoleScope ? { consoleScope } : {}),
  };
}

type CreatedToken = Awaited<ReturnType<typeof createApiToken>>;

/** A token read over HTTP carries ISO strings where the store gives dates. */
function withDates<T extends ApiTokenInfo>(token: T): T {
  const date = (value: Date | string | null) => (value === null ? null : new Date(value));
  return {
    ...token,
    createdAt: date(token.createdAt)!,
    lastUsedAt: date(token.lastUsedAt),
    revokedAt: date(token.revokedAt),
    expiresAt: date(token.expiresAt),
  };
}

/** One line of `factory tokens list`. */
function tokenLine(token: ApiTokenInfo, now = new Date()): string {
  const expired = token.expiresAt !== null && token.expiresAt <= now;
  const state = token.revokedAt
    ? pc.red(`revoked ${token.revokedAt.toISOString()}`)
    : expired
      ? pc.red(`expired ${token.expiresAt!.toISOString()}`)
      : `${pc.green('live')}, ${expiryText(token)}`;
  const used = token.lastUsedAt ? `last used ${token.lastUsedAt.toISOString()}` : 'never used';
  const rotated = token.rotatedFrom ? `  (rotated from ${token.rotatedFrom})` : '';
  return `${token.id}  ${token.principal}  [${token.roles.join(', ')}]  ${state}  ${used}${rotated}${token.description ? `  ${token.description}` : ''}`;
}

/** When a token expires, in words. */
function expiryText(token: Pick<ApiTokenInfo, 'expiresAt'>): string {
  return token.expiresAt ? `expires ${token.expiresAt.toISOString()}` : 'never expires';
}
