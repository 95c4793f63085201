// Usage: cost and tokens of the recorded model calls by team, feature, agent and model — the
// report `factory usage` prints, summed from the trace.
import { createRoute } from '@hono/zod-openapi';
import { parseUsageDimensions, summarizeUsage } from '@aifactory/verification';
import { authenticatedResponses, bearer, json, queryResponses, resolveTimeBound, usageQuery, usageResponse } from '../api-schemas.ts';
import type { ApiApp, RouteContext } from './context.ts';

/** The routes of this module, as the OpenAPI document describes them. */
export const usageRoutes = {
  report: createRoute({
    method: 'get',
    path: '/v1/usage',
    operationId: 'getUsage',
    tags: ['usage'],
    security: bearer,
    'x-roles': ['auditor', 'admin'],
    summary: 'Cost and tokens by team, feature, agent and model',
    description:
      'Sums the usage and cost of every model.responded event in the window, attributed through its run (team, feature, agent) — the report of `factory usage`.',
    request: { query: usageQuery },
    responses: { 200: json(usageResponse, 'The usage report.'), ...authenticatedResponses, ...queryResponses },
  }),
};

export function registerUsageRoutes(app: ApiApp, ctx: RouteContext): void {
  app.openapi(usageRoutes.report, async (c) => {
    ctx.requireRole(c, ['auditor', 'admin']);
    // Validated by the route already; parsed again here for its type.
    const query = usageQuery.parse(c.req.query());
    const now = new Date();
    const report = await summarizeUsage(ctx.store, {
      ...(query.by ? { by: parseUsageDimensions(query.by) } : {}),
      ...(query.since ? { since: resolveTimeBound(query.since, now) } : {}),
      ...(query.until ? { until: resolveTimeBound(query.until, now) } : {}),
    });
    return c.json(report, 200);
  });
}
