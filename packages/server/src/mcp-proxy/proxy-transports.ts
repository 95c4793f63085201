// How clients reach the governing proxy: stdio (one client, the process's own stdin and stdout) or
// Streamable HTTP behind the server's bearer authentication (a session per client, bound to the
// principal that opened it). Either way the session's run is sealed when the session ends.
import { randomUUID } from 'node:crypto';
import { ErrorCode, UserError } from '@aifactory/core';
import type { Principal } from '@aifactory/core';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { TokenPrincipal } from '../api-tokens.ts';
import type { GoverningMcpProxy, ProxySession } from './governing-proxy.ts';

/** An MCP endpoint the HTTP server mounts at /mcp. */
export interface McpHttpEndpoint {
  handle(request: Request, principal: TokenPrincipal): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Connects one client session over `transport` (stdio by default), calls governed as `principal`
 * (default mcp:<client name> with role operator, as `factory mcp serve` does). Resolves once
 * connected; `closed` settles when the client goes and the session's run is sealed.
 */
export async function serveProxySession(
  proxy: GoverningMcpProxy,
  options: { principal?: Principal; transport?: Transport } = {},
): Promise<{ session: ProxySession; closed: Promise<void> }> {
  const session = proxy.createSession((server) => {
    if (options.principal) return options.principal;
    return { id: `mcp:${server.getClientVersion()?.name ?? 'unknown-client'}`, roles: ['operator'] };
  });
  const transport = options.transport ?? new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    session.server.onclose = () => {
      void session.close().finally(resolve);
    };
  });
  await session.server.connect(transport);
  return { session, closed };
}

/** A Streamable HTTP endpoint (stateful sessions) for authenticated principals; another principal's requests for a session get 404. */
export function proxyHttpEndpoint(proxy: GoverningMcpProxy): McpHttpEndpoint {
  const sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; session: ProxySession; principal: string }>();
  const authInfo = (principal: TokenPrincipal) => ({
    token: principal.tokenId,
    clientId: principal.id,
    scopes: principal.roles,
    extra: { principal: { id: principal.id, roles: principal.roles } },
  });
  const principalOf = (_server: unknown, extra: { authInfo?: { extra?: Record<string, unknown> } }): Principal => {
    const principal = extra.authInfo?.extra?.['principal'] as Principal | undefined;
    if (!principal) throw new UserError(ErrorCode.Forbidden, 'The MCP request carries no authenticated principal.');
    return principal;
  };
  return {
    async handle(request, principal) {
      const sessionId = request.headers.get('mcp-session-id');
      if (sessionId) {
        const open = sessions.get(sessionId);
        if (!open || open.principal !== principal.id)
          return Response.json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found.' }, id: null }, { status: 404 });
        return open.transport.handleRequest(request, { authInfo: authInfo(principal) });
      }
      const session = proxy.createSession(principalOf);
      const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, session, principal: principal.id });
        },
        onsessionclosed: (id) => {
          sessions.delete(id);
          void session.close();
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
        void session.close();
      };
      await session.server.connect(transport);
      return transport.handleRequest(request, { authInfo: authInfo(principal) });
    },
    async close() {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(
        open.map(async ({ transport, session }) => {
          await session.close();
          await transport.close();
        }),
      );
    },
  };
}
