// The request schemas of the HTTP API. The same zod schemas validate requests and generate the
// OpenAPI document (z.toJSONSchema), so the published contract cannot drift from what is enforced.
import { agentNamePattern } from '@aifactory/execution/agents';
import { z } from 'zod';

/** POST /v1/runs: start a run of an agent. */
export const startRunRequest = z
  .strictObject({
    // A name, never a location: no path, separator, dot or encoding reaches the agents folder.
    agent: z
      .string()
      .regex(agentNamePattern, { error: 'must be an agent name (lowercase letters, digits and inner dashes, e.g. file-clerk); agents are named, never located by path' })
      .describe('Agent name as the server knows it (GET /v1/agents).'),
    input: z.string().min(1).max(100_000).describe('The user message the run starts with.'),
  })
  .describe('Start a run.');

/** POST /v1/approvals/{id}/approve|reject. */
export const voteRequest = z
  .strictObject({
    comment: z.string().max(2000).optional().describe('Why, in the approver\u2019s words.'),
  })
  .describe('A vote on a held action.');

/** POST /v1/tokens. */
export const createTokenRequest = z
  .strictObject({
    principal: z.string().min(1).max(320).describe('Who the token acts for, e.g. alice@acme.example.'),
    roles: z.array(z.string().min(1).max(100)).min(1).max(50).describe('Server roles and policy roles the token carries.'),
    description: z.string().max(500).optional().describe('What the token is for.'),
    expiresInMs: z.number().int().positive().optional().describe('Lifetime in milliseconds (absent: never expires).'),
  })
  .describe('Create an API token; the secret is in the answer, once.');

/** POST /v1/runs/:id/resume. */
export const resumeRunRequest = z
  .strictObject({
    approvalId: z.string().min(1).max(200).optional().describe('The decided approval to apply (default: the one recorded for the run).'),
  })
  .describe('Resume a held run whose approval was decided.');

/** POST /v1/policies/validate. */
export const validatePolicyRequest = z
  .strictObject({
    source: z.string().min(1).max(1_000_000).describe('Policy YAML.'),
    file: z.string().max(500).optional().describe('File name used in error locations.'),
  })
  .describe('Validate a policy document.');

/** GET /v1/runs query. */
/** Body of POST /v1/runs/:id/resolve. */
export const resolveRequest = z
  .strictObject({
    resolution: z.enum(['confirmed', 'retried', 'failed']).describe('The in-doubt call happened (confirmed), run it again (retried), or fail the run (failed).'),
    result: z.string().max(100_000).optional().describe('With confirmed: what the call returned, as the agent will read it.'),
    reason: z.string().max(2000).optional().describe('Why, in the resolver\u2019s words.'),
  })
  .describe('Settle the actions a crash left in doubt in a run held with reason outcome_unknown.');

/** Body of POST /v1/runs/:id/replay: without policies a replay, with them a what-if. */
export const replayRequest = z
  .strictObject({
    policies: z.array(z.string().min(1).max(200_000)).max(20).optional().describe('Policy YAML sources to re-decide the run under (what-if).'),
  })
  .describe('Replay a recorded run, or re-decide it under other policies.');

/** Body of POST /v1/policies/impact. */
export const impactRequest = z
  .strictObject({
    policies: z.array(z.string().min(1).max(200_000)).min(1).max(20).describe('Policy YAML sources to re-decide recorded runs under.'),
    agent: z.string().optional().describe('Only runs of this agent.'),
    since: z.iso.datetime().optional().describe('Only runs started at or after this time.'),
  })
  .describe('Impact of a policy change on recorded runs.');

export const listRunsQuery = z.strictObject({
  agent: z.string().max(200).optional(),
  status: z.enum(['running', 'orphaned', 'recovering', 'held', 'completed', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** GET /v1/approvals query. */
export const listApprovalsQuery = z.strictObject({
  status: z.enum(['pending', 'approved', 'rejected', 'expired', 'consumed']).optional(),
  runId: z.string().max(200).optional(),
});

/** The error body of every failed request. */
export const errorResponse = z
  .object({
    error: z.object({
      code: z.string().describe('Stable error code, e.g. INPUT_INVALID.'),
      message: z.string(),
      path: z.string().optional().describe('The offending field, when one is to blame.'),
    }),
  })
  .describe('What went wrong.');

/** One route of the API as documented. */
export interface RouteDoc {
  method: 'get' | 'post' | 'delete';
  path: string;
  summary: string;
  roles: readonly string[];
  body?: z.ZodType;
  query?: z.ZodObject;
  stream?: boolean;
}

/** Builds the OpenAPI 3.1 document of `routes` from their zod schemas. */
export function openApiDocument(routes: readonly RouteDoc[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const error = { description: 'Error', content: { 'application/json': { schema: z.toJSONSchema(errorResponse) } } };
  for (const route of routes) {
    const openApiPath = route.path.replace(/:(\w+)/g, '{$1}');
    const parameters: unknown[] = [...route.path.matchAll(/:(\w+)/g)].map((match) => ({ name: match[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (route.query) {
      for (const [name, schema] of Object.entries(route.query.shape)) {
        parameters.push({ name, in: 'query', required: false, schema: z.toJSONSchema(schema as z.ZodType, { io: 'input', unrepresentable: 'any' }) });
      }
    }
    const responses: Record<string, unknown> = {
      '200': route.stream
        ? { description: 'Server-sent events (text/event-stream) when Accept asks for them, JSON otherwise.', content: { 'text/event-stream': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object' } } } }
        : { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } },
      ...(route.roles.length > 0 ? { '401': error, '404': error, '429': error } : {}),
      ...(route.body ? { '400': error, '413': error } : {}),
    };
    paths[openApiPath] = {
      ...paths[openApiPath],
      [route.method]: {
        summary: route.summary,
        ...(route.roles.length > 0 ? { security: [{ bearer: [] }], 'x-roles': route.roles } : { security: [] }),
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(route.body) } } } } : {}),
        responses,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'aifactory API', version: info.version, description: 'Governed agent runs, approvals, verification and policies. Every route but /healthz and /v1/openapi.json needs a bearer token.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token from `factory tokens create`.' } } },
    paths,
  };
}
