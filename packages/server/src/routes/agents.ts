// Agents this server can run.
import { loadAgents } from '@aifactory/execution';
import type { ApiApp, RouteContext } from './context.ts';

export function registerAgentRoutes(app: ApiApp, ctx: RouteContext): void {
  app.get('/v1/agents', async (c) => {
    ctx.requireRole(c, ['operator', 'auditor', 'risk_officer', 'admin']);
    const agents = await loadAgents(ctx.workspace.config.agentsDir);
    return c.json({
      agents: agents.map((agent) => ({ name: agent.name, description: agent.description ?? null, team: agent.team ?? null, model: agent.model.id, tools: agent.tools.map((tool) => tool.name) })),
    });
  });
}
