// `factory mcp proxy`: the governing MCP proxy (docs/mcp-proxy.md). An MCP client connects here
// instead of to the upstream server; every tools/call is decided by the policy, recorded
// write-ahead, then executed, held or denied; tool definitions are pinned on first sight.
import { compilePolicies, loadPolicyFiles } from '@aifactory/control';
import { ErrorCode, UserError } from '@aifactory/core';
import { serverNameProblem } from '@aifactory/execution';
import {
  GoverningMcpProxy,
  connectUpstream,
  oidcOptionsFromEnv,
  parseUpstream,
  proxyHttpEndpoint,
  serveProxySession,
  startServer,
} from '@aifactory/server';
import { openWorkspace } from '@aifactory/workspace';
import { openWorkspaceStore, workspaceConfigFromEnv } from '@aifactory/workspace/config';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, withJson, type CommonOptions } from '../command-kit.ts';

interface McpProxyOptions extends CommonOptions {
  upstream: string;
  policy: string[];
  name?: string;
  team?: string;
  http?: string;
  host: string;
  principal?: string;
  role: string[];
  upstreamEnv: string[];
}

const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
];

/** Registers `factory mcp proxy` under the `mcp` command (created here when `factory mcp serve` is not registered). */
export function registerMcpProxyCommand(program: Command): void {
  const mcp =
    program.commands.find((command) => command.name() === 'mcp') ?? program.command('mcp').description('Serve agents to MCP clients.');
  withJson(
    mcp
      .command('proxy')
      .description(
        'Govern an MCP server you did not write: clients connect here instead; tools/list passes through (minus tools the policy denies), and every tools/call is decided, recorded write-ahead, then executed, held (pending with the approval id, or asked of the caller by elicitation) or denied. Tool definitions are pinned on first sight; a changed one is governed as tool_changed.<name>.<tool>.',
      )
      .requiredOption(
        '--upstream <command-or-url>',
        'the MCP server governed: a command line started over stdio (quote it), or an http(s) URL of its Streamable HTTP endpoint',
      )
      .requiredOption(
        '--policy <file>',
        'policy file(s) deciding the calls (repeatable or comma-separated); tools are named <name>.<tool>',
        collect,
        [],
      )
      .option('--name <server>', "the server's name in policies, pins and the record (default: derived from --upstream)")
      .option('--team <team>', 'the owning team (CEL agent.team)')
      .option('--http <port>', 'serve Streamable HTTP on this port (at /mcp, bearer token required) instead of stdio')
      .option('--host <host>', 'interface for --http', '127.0.0.1')
      .option('--principal <id>', 'stdio: the principal calls are made as (default mcp:<client name>)')
      .option('--role <role>', 'stdio: roles of that principal (repeatable)', collect, [])
      .option(
        '--upstream-env <KEY[=VALUE]>',
        "an environment variable for an upstream started over stdio (repeatable); KEY alone passes this process's value. The upstream sees only these besides PATH, HOME and the like",
        (value: string, previous: string[] = []) => [...previous, value],
        [],
      ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  factory mcp proxy --upstream "npx -y @modelcontextprotocol/server-memory" --policy policies/memory.yaml --name mem\n' +
        '  factory mcp proxy --upstream http://127.0.0.1:3001/mcp --policy policies/everything.yaml --name everything --http 8788\n' +
        "\nstdio writes only MCP messages on stdout; diagnostics go to stderr. Over HTTP the principal is the API token's (see docs/serving.md).\n" +
        'Each client session is one run; it is sealed when the session ends (`factory runs verify <run>`). See docs/mcp-proxy.md.',
    )
    .action(
      action(async (options: McpProxyOptions) => {
        if (options.policy.length === 0)
          throw new UserError(ErrorCode.InputInvalid, 'Give at least one --policy file; without a policy nothing could be decided.');
        const spec = parseUpstream(options.upstream);
        if (spec.kind === 'stdio' && options.upstreamEnv.length > 0) spec.env = upstreamEnvironment(options.upstreamEnv);
        const name = options.name ?? defaultName(spec);
        const problem = serverNameProblem(name);
        if (problem) throw new UserError(ErrorCode.InputInvalid, `${problem} Set it with --name.`, { location: { path: '--name' } });
        // Validate before anything starts: a policy that does not parse names its file, line and column.
        const policySet = compilePolicies(await loadPolicyFiles(options.policy));
        const http = options.http === undefined ? undefined : portOf(options.http);
        const upstream = await connectUpstream(spec, { onStderr: (line) => process.stderr.write(`${pc.dim(`[${name}]`)} ${line}\n`) });
        const config = workspaceConfigFromEnv(process.env);
        const stop = new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
          // The client went away mid-answer (stdio): nothing more can be said to it.
          process.stdout.once('error', () => resolve());
        });
        if (http !== undefined) {
          const store = await openWorkspaceStore(config).catch(async (error: unknown) => {
            await upstream.close();
            throw error;
          });
          let proxy: GoverningMcpProxy | undefined;
          const oidc = oidcOptionsFromEnv();
          const server = await startServer({
            store,
            config,
            port: http,
            host: options.host,
            mcpEndpoint: (workspace) => {
              proxy = new GoverningMcpProxy({
                workspace,
                upstream,
                name,
                policies: () => policySet,
                ...(options.team ? { team: options.team } : {}),
              });
              const endpoint = proxyHttpEndpoint(proxy);
              return { handle: (request, principal) => endpoint.handle(request, principal), close: () => endpoint.close() };
            },
            ...(oidc ? { oidc } : {}),
          }).catch(async (error: unknown) => {
            await upstream.close();
            await store.close();
            throw error;
          });
          emit(
            options,
            { url: `${server.url}/mcp`, server: name, upstream: upstream.description },
            (value) => `${pc.green('proxying')} ${value.upstream} as '${value.server}' at ${value.url}`,
          );
          await stop;
          await server.close();
          await proxy?.close();
          await store.close();
          return;
        }
        // The client's handshake is answered at once; calls wait for the store (a fresh embedded
        // store migrates on first open, which can take a while).
        const opening = (async () => {
          const store = await openWorkspaceStore(config);
          try {
            return { store, workspace: await openWorkspace(config, { store }) };
          } catch (error) {
            await store.close();
            throw error;
          }
        })();
        const proxy = new GoverningMcpProxy({
          workspace: opening.then((opened) => opened.workspace),
          upstream,
          name,
          policies: () => policySet,
          ...(options.team ? { team: options.team } : {}),
        });
        const { session, closed } = await serveProxySession(
          proxy,
          options.principal ? { principal: { id: options.principal, roles: options.role.length > 0 ? options.role : ['operator'] } } : {},
        );
        process.stderr.write(`proxying ${upstream.description} as '${name}' over stdio\n`);
        try {
          // A store that cannot open ends the proxy with its error.
          await Promise.race([
            closed,
            stop,
            new Promise<void>((resolve) => process.stdin.once('end', () => resolve())),
            opening.then(() => new Promise<never>(() => undefined)),
          ]);
        } finally {
          // However the client went, its run is sealed before the store closes.
          await session.close().catch(() => undefined);
          await session.server.close().catch(() => undefined);
          await proxy.close();
          const opened = await opening.catch(() => undefined);
          await opened?.workspace.close();
          await opened?.store.close();
        }
      }),
    );
}

/** The upstream's extra environment from `--upstream-env` values. */
function upstreamEnvironment(values: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf('=');
    const key = equals < 0 ? value : value.slice(0, equals);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw new UserError(ErrorCode.InputInvalid, `--upstream-env '${key}' is not a variable name; give KEY=VALUE or KEY.`, {
        location: { path: '--upstream-env' },
      });
    const resolved = equals < 0 ? process.env[key] : value.slice(equals + 1);
    if (resolved === undefined)
      throw new UserError(ErrorCode.InputInvalid, `--upstream-env ${key} names a variable this process does not have; give ${key}=VALUE.`, {
        location: { path: '--upstream-env' },
      });
    env[key] = resolved;
  }
  return env;
}

/** A server name from the upstream: the package or host it names (e.g. server-memory -> memory). */
function defaultName(spec: ReturnType<typeof parseUpstream>): string {
  const source =
    spec.kind === 'http'
      ? spec.url.hostname.split('.')[0]!
      : (spec.args.find((arg) => arg.includes('server-')) ?? spec.command)
          .split(/[\\/@]/)
          .filter(Boolean)
          .at(-1)!;
  const cleaned = source
    .replace(/\.(m?js|ts)$/, '')
    .replace(/^(mcp-)?server-/, '')
    .replace(/[^a-zA-Z0-9-]/g, '-')
    .replace(/^[^a-zA-Z]+/, '')
    .slice(0, 32);
  return cleaned || 'upstream';
}

function portOf(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UserError(ErrorCode.InputInvalid, `--http '${value}' is not a port; give a number from 0 to 65535.`, {
      location: { path: '--http' },
    });
  return port;
}
