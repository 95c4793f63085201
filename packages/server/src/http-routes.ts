// Mounts the API's routes, one module per area (routes/*.ts), each a register...Routes(app, ctx);
// mount new ones here. The console's assets come last: they answer every other GET.
import { registerConsoleAssets } from './console-assets.ts';
import type { HttpAppOptions } from './http-app.ts';
import { registerOperatorRoutes } from './operator-routes.ts';
import { registerAgentRoutes } from './routes/agents.ts';
import { registerApprovalRoutes } from './routes/approvals.ts';
import { registerConsoleRoutes } from './routes/console.ts';
import type { ApiApp, RouteContext } from './routes/context.ts';
import { registerFeedbackRoutes } from './routes/feedback.ts';
import { registerPolicyRoutes } from './routes/policies.ts';
import { registerRunRoutes } from './routes/runs.ts';
import { registerMcpRoute, registerMetricsRoute, registerSystemRoutes } from './routes/system.ts';
import { registerTokenRoutes } from './routes/tokens.ts';
import { registerUsageRoutes } from './routes/usage.ts';

/** Mounts every route area on `app`; `forgetToken` drops a revoked token from the authenticator's cache. */
export function mountRoutes(app: ApiApp, ctx: RouteContext, options: HttpAppOptions, forgetToken: (tokenId: string) => void): void {
  registerSystemRoutes(app, ctx, { version: '0.1.0', ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}) });
  registerAgentRoutes(app, ctx);
  registerRunRoutes(app, ctx);
  registerPolicyRoutes(app, ctx);
  registerApprovalRoutes(app, ctx);
  registerTokenRoutes(app, ctx, forgetToken);
  // Token rotation and verifying every run, for the CLI through this server.
  registerOperatorRoutes(app, ctx, forgetToken);
  registerUsageRoutes(app, ctx);
  registerMetricsRoute(app, ctx, options.publicMetrics === true);
  registerMcpRoute(app, ctx, options.mcp);
  registerConsoleRoutes(app, ctx);
  registerFeedbackRoutes(app, ctx);
  if (options.consoleDir) {
    const oidc = options.oidc;
    const signIn = oidc?.consoleClientId
      ? { issuer: oidc.issuer, clientId: oidc.consoleClientId, scope: oidc.consoleScope ?? 'openid', resource: oidc.audience[0]! }
      : undefined;
    registerConsoleAssets(app, { dir: options.consoleDir, ...(signIn ? { signIn } : {}) }); // last: it answers every other GET
  }
}
