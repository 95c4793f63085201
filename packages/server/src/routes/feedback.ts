// Feedback: POST /v1/runs/:id/feedback records a person's score, comment and correction on a run
// they can see, as a sealed feedback record bound to the run's head (see @aifactory/quality
// feedback.ts for why it is not appended to the run itself); GET /v1/feedback searches it. The
// aifactory_feedback gauge counts feedback in the store by agent and sentiment.
import { countFeedback, listFeedback, recordFeedback } from '@aifactory/quality';
import { Gauge } from 'prom-client';
import { createRoute, z } from '@hono/zod-openapi';
import {
  authenticatedResponses,
  bearer,
  bodyResponses,
  feedbackListResponse,
  feedbackResponse,
  idParam,
  json,
  queryResponses,
} from '../api-schemas.ts';
import { runReaders, type ApiApp, type RouteContext } from './context.ts';

/** The body of POST /v1/runs/:id/feedback. */
export const feedbackRequest = z
  .strictObject({
    score: z.number().min(-1).max(1).describe('From -1 (bad) to 1 (good); 1 and -1 for thumbs up and down.'),
    comment: z.string().max(4000).optional().describe('What the person thought of the answer.'),
    correction: z
      .string()
      .min(1)
      .max(20_000)
      .optional()
      .describe('The answer the person expected; factory feedback export turns it into an eval case.'),
  })
  .describe('Feedback on a run.');

/** The query of GET /v1/feedback. */
export const listFeedbackQuery = z.strictObject({
  runId: z.string().min(1).max(200).optional().describe('Feedback on this run only.'),
  agent: z.string().min(1).max(200).optional().describe('Feedback on runs of this agent only.'),
  sentiment: z.enum(['positive', 'neutral', 'negative']).optional().describe('Only this sentiment (score above, at or below 0).'),
  corrections: z.enum(['true', 'false']).optional().describe('true: only feedback that carries a correction.'),
  limit: z.coerce.number().int().min(1).max(1000).optional().describe('At most this many, newest first (default 100).'),
});

/** Who may give feedback on a run: whoever may read it (operators their own runs). */
const feedbackGivers = ['operator', ...runReaders] as const;

const tags = ['feedback'];

/** The feedback routes, as the OpenAPI document describes them. */
export const feedbackRoutes = {
  give: createRoute({
    method: 'post',
    path: '/v1/runs/{id}/feedback',
    operationId: 'giveFeedback',
    tags,
    security: bearer,
    'x-roles': [...feedbackGivers],
    summary: 'Give feedback on a run',
    description:
      'A score from -1 to 1, a comment and a correction, recorded as a sealed feedback record bound to the run\u2019s head. Operators give feedback on their own runs.',
    request: { params: idParam, body: { required: true, content: { 'application/json': { schema: feedbackRequest } } } },
    responses: { 201: json(feedbackResponse, 'The feedback as recorded.'), ...authenticatedResponses, ...bodyResponses },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/feedback',
    operationId: 'listFeedback',
    tags,
    security: bearer,
    'x-roles': [...runReaders],
    summary: 'Search feedback, newest first',
    description: 'By run, agent, sentiment, or only feedback that carries a correction.',
    request: { query: listFeedbackQuery },
    responses: { 200: json(feedbackListResponse, 'The feedback.'), ...authenticatedResponses, ...queryResponses },
  }),
};

/** Mounts the feedback routes and, with metrics, the aifactory_feedback gauge. */
export function registerFeedbackRoutes(app: ApiApp, ctx: RouteContext): void {
  const { workspace, store, metrics } = ctx;

  app.openapi(feedbackRoutes.give, async (c) => {
    const principal = ctx.requireRole(c, feedbackGivers, 'run');
    const row = await ctx.visibleRun(principal, c.req.valid('param').id);
    const request = c.req.valid('json');
    const feedback = await recordFeedback(workspace, { runId: row.id, by: principal.id, ...request });
    return c.json({ feedback }, 201);
  });

  app.openapi(feedbackRoutes.list, async (c) => {
    ctx.requireRole(c, runReaders);
    const query = c.req.valid('query');
    const feedback = await listFeedback(store, {
      ...(query.runId ? { runId: query.runId } : {}),
      ...(query.agent ? { agent: query.agent } : {}),
      ...(query.sentiment ? { sentiment: query.sentiment } : {}),
      ...(query.corrections === 'true' ? { withCorrection: true } : {}),
      ...(query.limit ? { limit: query.limit } : {}),
    });
    return c.json({ feedback }, 200);
  });

  // One gauge per registry, read from the store when scraped: feedback given through any process counts.
  if (metrics && !metrics.registry.getSingleMetric('aifactory_feedback')) {
    new Gauge({
      name: 'aifactory_feedback',
      help: 'Feedback on runs in the store, by the agent of the run and sentiment (read from the store when scraped).',
      labelNames: ['agent', 'sentiment'],
      registers: [metrics.registry],
      async collect() {
        this.reset();
        for (const { agent, sentiment, count } of await countFeedback(store)) this.set({ agent, sentiment }, count);
      },
    });
  }
}
