// Agents this server can run.
import { loadAgents } from '@aifactory/execution';
import { createRoute } from '@hono/zod-openapi';
import { agentsResponse, authenticatedResponses, bearer, json } from '../api-schemas.ts';
import type { ApiApp, RouteContext } from './context.ts';

/** The routes of this module, as the OpenAPI document describes them. */
export const agentRoutes = {
  list: createRoute({
    method: 'get',
    path: '/v1/agents',
    operationId: 'listAgents',
    tags: ['agents'],
    security: bearer,
    'x-roles': ['operator', 'auditor', 'risk_officer', 'admin'],
    summary: 'Agents this server can run',
    responses: { 200: json(agentsResponse, 'The agents.'), ...authenticatedResponses },
  }),
};

export function registerAgentRoutes(app: ApiApp, ctx: RouteContext): void {
  app.openapi(agentRoutes.list, async (c) => {
    ctx.requireRole(c, ['operator', 'auditor', 'risk_officer', 'admin']);
    const agents = await loadAgents(ctx.workspace.config.agentsDir);
    return c.json(
      {
        agents: agents.map((agent) => ({
          name: agent.name,
          description: agent.description ?? null,
          team: agent.team ?? null,
          model: agent.model.id,
          tools: agent.tools.map((tool) => tool.name),
        })),
      },
      200,
    );
  });
}
