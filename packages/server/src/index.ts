// @aifactory/server public API: anything exported here is public API.
// Serving: the HTTP API (tokens, roles, SSE run streams, approvals, runs, policies, OpenAPI),
// agents as MCP servers (stdio and Streamable HTTP) and Prometheus metrics.
export {
  authenticateApiToken,
  createApiToken,
  isApiTokenShaped,
  listApiTokens,
  revokeApiToken,
  rotateApiToken,
  serverRoles,
  tokenLifetimeMs,
  touchApiToken,
} from './api-tokens.ts';
export type { ApiTokenInfo, CreatedApiToken, RotatedApiToken, ServerRole, TokenInput, TokenPrincipal } from './api-tokens.ts';
export {
  createTokenRequest,
  errorResponse,
  listApprovalsQuery,
  resumeRunRequest,
  listRunsQuery,
  startRunRequest,
  validatePolicyRequest,
  voteRequest,
} from './api-schemas.ts';
export { actAsHeaders, createHttpApp } from './http-app.ts';
export type { HttpApp, HttpAppOptions, McpRequestHandler, ServerLog } from './http-app.ts';
export { startServer } from './http-server.ts';
export { decideHost, hostGuard, isLoopbackHost, loopbackHostnames } from './host-guard.ts';
export type { HostDecision, HostGuardOptions } from './host-guard.ts';
export { FailedAuthLimiter } from './failed-auth-limit.ts';
export type { FailedAuthLimitOptions } from './failed-auth-limit.ts';
export { isJwtShaped, OidcVerifier, oidcOptionsFromEnv, validateOidcOptions } from './oidc-auth.ts';
export type { JwtOutcome, OidcOptions } from './oidc-auth.ts';
export { bearerChallenge, protectedResourceMetadata, protectedResourcePath } from './protected-resource.ts';
export { clientAddress, RequestAuthenticator } from './request-auth.ts';
export type { AuthOutcome, RequestAuthOptions } from './request-auth.ts';
export { idPattern, requestHygiene } from './request-hygiene.ts';
export type { RunningServer, StartServerOptions } from './http-server.ts';
export { gatewayConfig, loadGatewayConfig } from './gateway/gateway-config.ts';
export type {
  GatewayBudget,
  GatewayConfig,
  GatewayConfigFile,
  GatewayConfigSources,
  GatewayProvider,
  GatewayRateLimit,
  GatewayWire,
} from './gateway/gateway-config.ts';
export { LlmGateway, classificationHeader, featureHeader, gatewayErrorResponse, teamOf, teamRolePrefix } from './gateway/llm-gateway.ts';
export type { GatewayCaller, GatewayLog, GatewayRequest, LlmGatewayOptions } from './gateway/llm-gateway.ts';
export { gatewayBasePaths, gatewayRoles, registerGatewayRoutes } from './gateway/gateway-routes.ts';
export type { GatewayRoutesOptions } from './gateway/gateway-routes.ts';
export { anthropicWire, openAIWire, wireProtocol } from './gateway/wire-protocols.ts';
export type { GatewayErrorKind, StreamReader, WireOutcome, WireProtocol, WireUsage } from './gateway/wire-protocols.ts';
export { agentMcpHttpHandler, createAgentMcpServer, serveAgentsOverStdio } from './mcp-server.ts';
export type { AgentMcpOptions, PrincipalResolver } from './mcp-server.ts';
export { GoverningMcpProxy, governanceMetaKey, toolChangedPrefix } from './mcp-proxy/governing-proxy.ts';
export type { GoverningProxyOptions, ProxyPrincipalResolver, ProxySession, ProxyWorkspace } from './mcp-proxy/governing-proxy.ts';
export { proxyHttpEndpoint, serveProxySession } from './mcp-proxy/proxy-transports.ts';
export type { McpHttpEndpoint } from './mcp-proxy/proxy-transports.ts';
export { connectUpstream, parseUpstream, splitCommandLine } from './mcp-proxy/upstream.ts';
export type { Upstream, UpstreamSpec } from './mcp-proxy/upstream.ts';
export { createServerMetrics, observingRecorder } from './metrics.ts';
export type { ServerMetrics } from './metrics.ts';
export { startTelemetry, telemetryConfigured } from './telemetry.ts';
export type { Telemetry } from './telemetry.ts';
export { RateLimiter } from './rate-limit.ts';
export type { RateDecision, RateLimitOptions } from './rate-limit.ts';
export { RunChannel, RunHub } from './run-hub.ts';
export type { ChannelState, NumberedEvent } from './run-hub.ts';
export { consoleContentSecurityPolicy, registerConsoleAssets } from './console-assets.ts';
export type { ConsoleAssetsOptions } from './console-assets.ts';
export { consoleRoutes, registerConsoleRoutes } from './routes/console.ts';
export type { ConsoleRoutesOptions, InboxApproval } from './routes/console.ts';
