// The schemas of the HTTP API: requests and responses. The routes (routes/*.ts) are defined with
// @hono/zod-openapi's createRoute over these schemas, so the same zod objects validate requests,
// type the handlers' answers, and generate the OpenAPI document at /v1/openapi.json: the
// published contract cannot drift from what is enforced and returned.
import { z } from '@hono/zod-openapi';
import { agentNamePattern } from '@aifactory/execution/agents';

// ---------------------------------------------------------------- shared pieces

/** An instant as the API writes it (ISO 8601, UTC). */
const instant = z.string().openapi({ format: 'date-time', example: '2026-03-01T09:30:00.000Z' });

/** A time bound of a query: an ISO instant, or a duration ago such as 30m, 24h, 7d. */
export const timeBound = z
  .string()
  .max(64)
  .refine((value) => /^\d{1,6}[smhd]$/.test(value) || !Number.isNaN(Date.parse(value)), {
    error: 'must be an ISO time (2026-03-01T00:00:00Z) or a duration ago such as 30m, 24h, 7d',
  })
  .openapi({ example: '7d', description: 'An ISO 8601 time, or a duration ago such as 30m, 24h, 7d.' });

/** The instant a time bound names, relative to `now`. */
export function resolveTimeBound(value: string, now = new Date()): Date {
  const duration = /^(\d{1,6})([smhd])$/.exec(value);
  if (!duration) return new Date(value);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 's' | 'm' | 'h' | 'd'];
  return new Date(now.getTime() - Number(duration[1]) * unit);
}

/** The error body of every failed request. */
export const errorResponse = z
  .object({
    error: z.object({
      code: z.string().openapi({
        description: 'Stable error code, e.g. INPUT_INVALID, UNAUTHENTICATED, NOT_FOUND, FORBIDDEN, CONFLICT, RATE_LIMITED.',
        example: 'NOT_FOUND',
      }),
      message: z.string().openapi({ description: 'What went wrong and what to do, in words.' }),
      path: z.string().optional().openapi({ description: 'The offending field, when one is to blame.' }),
    }),
  })
  .openapi('Error', { description: 'What went wrong.' });

const problem = (description: string) => ({ description, content: { 'application/json': { schema: errorResponse } } });

/** Answers every authenticated route can give besides its own. */
export const authenticatedResponses = {
  401: problem('No valid bearer token (see the WWW-Authenticate header).'),
  403: problem('Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential.'),
  404: problem('Absent, or not visible to the token\u2019s roles: both answer alike, so nothing leaks.'),
  429: problem('Too many requests for this token or failed authentications from this address; see Retry-After.'),
} as const;

/** Answers of routes that read a JSON body. */
export const bodyResponses = {
  400: problem('The body or query is invalid; the message names each offending field.'),
  413: problem('The body is larger than the server accepts.'),
  415: problem('The body is not application/json.'),
} as const;

/** Answers of routes that read a query. */
export const queryResponses = { 400: problem('The query is invalid; the message names each offending field.') } as const;

/** 409: the request conflicts with the current state. */
export const conflictResponse = {
  409: problem('Conflicts with the current state (e.g. the approval was decided already, the approver voted already).'),
} as const;

/** 403 with a reason of its own. */
export const forbiddenResponse = (why: string) => ({ 403: problem(why) }) as const;

/** 503: the server is shutting down. */
export const closingResponse = { 503: problem('The server is shutting down and takes no new work; retry on another instance.') } as const;

/** A JSON answer. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

/** The route parameter `id`. */
export const idParam = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'run_0f8fad5b-d9cb-469f-a165-70867728950e' }),
});

/** The `security` of routes that need a bearer token. */
export const bearer = [{ bearer: [] }];

// ---------------------------------------------------------------- system

export const healthResponse = z
  .object({ ok: z.boolean(), closing: z.boolean().openapi({ description: 'True while the server shuts down (then 503).' }) })
  .openapi('Health');

export const meResponse = z
  .object({
    principal: z.string(),
    roles: z.array(z.string()),
    token: z.string().openapi({ description: 'Id of the token presented (never its secret).' }),
  })
  .openapi('Me');

export const agentsResponse = z
  .object({
    agents: z.array(
      z
        .object({
          name: z.string(),
          description: z.string().nullable(),
          team: z.string().nullable(),
          model: z.string(),
          tools: z.array(z.string()),
        })
        .openapi('Agent'),
    ),
  })
  .openapi('AgentList');

// ---------------------------------------------------------------- runs

/** POST /v1/runs: start a run of an agent. */
export const startRunRequest = z
  .strictObject({
    // A name, never a location: no path, separator, dot or encoding reaches the agents folder.
    agent: z
      .string()
      .regex(agentNamePattern, {
        error:
          'must be an agent name (lowercase letters, digits and inner dashes, e.g. file-clerk); agents are named, never located by path',
      })
      .openapi({ description: 'Agent name as the server knows it (GET /v1/agents).', example: 'order-desk' }),
    input: z
      .string()
      .min(1)
      .max(100_000)
      .openapi({ description: 'The user message the run starts with.', example: 'Where is my order 1042?' }),
  })
  .openapi('StartRun', { description: 'Start a run.' });

const authority = z.enum(['autonomous', 'notify_human', 'require_approval', 'deny']).openapi('Authority');

/** One thing that happened in a run, as streamed (kept equal to @aifactory/execution's RunEvent by a type test). */
export const runEvent = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('run.started'), runId: z.string(), agent: z.string(), principal: z.string() }),
    z.object({ type: z.literal('token'), runId: z.string(), text: z.string() }),
    z.object({
      type: z.literal('action.decided'),
      runId: z.string(),
      step: z.number(),
      kind: z.string(),
      name: z.string(),
      args: z.record(z.string(), z.unknown()),
      authority,
      rules: z.array(z.string()),
      reason: z.string(),
    }),
    z.object({
      type: z.literal('tool.returned'),
      runId: z.string(),
      step: z.number(),
      name: z.string(),
      ok: z.boolean(),
      summary: z.string(),
    }),
    z.object({ type: z.literal('notification.queued'), runId: z.string(), step: z.number(), targets: z.array(z.string()) }),
    z.object({
      type: z.literal('run.held'),
      runId: z.string(),
      step: z.number(),
      approvalId: z.string(),
      kind: z.string(),
      name: z.string(),
      args: z.record(z.string(), z.unknown()),
      approvers: z.unknown(),
      expiresAt: z.string().optional(),
      childRunId: z
        .string()
        .optional()
        .openapi({ description: 'Set when the run waits on a hand-off\u2019s child run, which holds the approval.' }),
    }),
    z.object({
      type: z.literal('approval.applied'),
      runId: z.string(),
      step: z.number(),
      approvalId: z.string(),
      outcome: z.enum(['approved', 'rejected']),
    }),
    z.object({
      type: z.literal('budget.exceeded'),
      runId: z.string(),
      limit: z.string(),
      value: z.number(),
      max: z.number(),
      outcome: z.string(),
    }),
    z.object({ type: z.literal('answer'), runId: z.string(), text: z.string() }),
    z.object({ type: z.literal('run.completed'), runId: z.string(), answer: z.string() }),
    z.object({ type: z.literal('run.failed'), runId: z.string(), reason: z.string() }),
  ])
  .openapi('RunEvent');

/** Notices the stream itself adds to a run's events. */
export const streamNotice = z
  .discriminatedUnion('type', [
    z
      .object({ type: z.literal('run.status'), runId: z.string(), status: z.string() })
      .openapi({ description: 'The run is not driven by this server: where it is, then the stream ends.' }),
    z
      .object({ type: z.literal('server.closing'), runId: z.string(), lastEventId: z.number() })
      .openapi({ description: 'The server shuts down; follow again (Last-Event-ID) elsewhere.' }),
  ])
  .openapi('StreamNotice');

/** How a run ended (for now). */
export const runResult = z
  .discriminatedUnion('status', [
    z.object({ runId: z.string(), status: z.literal('completed'), answer: z.string() }),
    z.object({
      runId: z.string(),
      status: z.literal('held'),
      held: z
        .object({ approvalId: z.string(), step: z.number(), kind: z.string(), name: z.string(), args: z.unknown() })
        .openapi('HeldAction'),
    }),
    z.object({ runId: z.string(), status: z.literal('failed'), error: z.string() }),
  ])
  .openapi('RunResult');

/** Documentation of a run event stream (SSE). */
export const eventStream = (what: string) => ({
  'text/event-stream': {
    schema: z.string().openapi({
      description: `${what} Server-sent events: each message has \`event:\` the event type, \`data:\` one JSON RunEvent (or StreamNotice), and \`id:\` its number in the run (1, 2, …). Resume after a dropped connection with the Last-Event-ID header (or ?after=N): the stream continues after that event, each event once. Comment lines (\`: keep-alive\`) come every 15 s.`,
      example:
        'id: 1\nevent: run.started\ndata: {"type":"run.started","runId":"run_…","agent":"order-desk","principal":"alice@shop.example"}\n\n',
      // What each message's data holds, for generators and readers.
      'x-event-data': { oneOf: [{ $ref: '#/components/schemas/RunEvent' }, { $ref: '#/components/schemas/StreamNotice' }] },
    }),
  },
});

const runStatus = z.enum(['running', 'queued', 'orphaned', 'recovering', 'held', 'completed', 'failed']);

/** A run as listed. */
export const runSummary = z
  .object({
    id: z.string(),
    agent: z.string(),
    team: z.string().nullable(),
    principal: z.string(),
    status: z.string().openapi({ description: 'running, queued, orphaned, recovering, held, completed or failed.' }),
    startedAt: instant,
    endedAt: instant.nullable(),
    replayOf: z.string().nullable(),
    parentRunId: z.string().nullable(),
    events: z.number().int().openapi({ description: 'Events in the run (its head seq).' }),
    sealed: z.boolean().openapi({ description: 'Whether the run\u2019s final seal exists.' }),
  })
  .openapi('RunSummary');

/** GET /v1/runs query. */
export const listRunsQuery = z.strictObject({
  agent: z.string().max(200).optional().openapi({ description: 'Only runs of this agent.' }),
  status: runStatus.optional().openapi({ description: 'Only runs in this state.' }),
  principal: z
    .string()
    .max(320)
    .optional()
    .openapi({ description: 'Only runs started by this principal (operators see only their own whatever they ask).' }),
  team: z.string().max(200).optional().openapi({ description: 'Only runs of agents of this team.' }),
  authority: authority
    .optional()
    .openapi({ description: 'Only runs with at least one decision of this authority (deny: runs that met a boundary).' }),
  since: timeBound.optional().openapi({ description: 'Only runs started at or after (ISO time or a duration ago: 30m, 24h, 7d).' }),
  until: timeBound.optional().openapi({ description: 'Only runs started before (ISO time or a duration ago).' }),
  cursor: z.string().max(500).optional().openapi({ description: 'The nextCursor of the previous page, unchanged.' }),
  limit: z.coerce.number().int().min(1).max(1000).optional().openapi({ description: 'Runs per page (default 100).', example: 100 }),
});

export const runListResponse = z
  .object({
    runs: z.array(runSummary).openapi({ description: 'Newest first.' }),
    nextCursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as ?cursor= for the next page; null on the last. Runs started meanwhile never shift the pages.' }),
  })
  .openapi('RunList');

export const runDetailResponse = z
  .object({
    run: z.object({
      id: z.string(),
      agent: z.string(),
      team: z.string().nullable(),
      principal: z.string(),
      status: z.string(),
      startedAt: instant,
      endedAt: instant.nullable(),
      metadata: z.unknown(),
    }),
    summary: runSummary.optional(),
    events: z.array(
      z
        .object({
          seq: z.number().int(),
          ts: instant,
          type: z.string(),
          actor: z.string(),
          payload: z.unknown(),
          erased: z.boolean(),
          hash: z.string(),
        })
        .openapi('RecordedEvent', { description: 'One event of the run\u2019s hash-chained log (first 5,000).' }),
    ),
  })
  .openapi('RunDetail');

/** A report or document this API returns whole; its shape is described where it is produced. */
const document = (name: string, description: string) => z.record(z.string(), z.unknown()).openapi(name, { description });

export const verifyResponse = z.object({
  report: document('VerificationReport', 'Whether every hash and signature of the run checks out (ok), and the first problem if not.'),
});
export const explainResponse = z.object({
  explanation: document('Explanation', 'Each action: what, why (policy, rule, values), which data, and the outcome.'),
});
export const replayResponse = z.union([
  z.object({ replay: document('ReplayReport', 'The replay from the recordings: identical, or the first divergence.') }),
  z.object({ whatIf: document('WhatIfReport', 'How the run would have been decided under the given policies.') }),
]);
export const impactResponse = z.object({ impact: document('ImpactReport', 'Authority transitions per rule over the recorded runs.') });

/** POST /v1/runs/:id/resume. */
export const resumeRunRequest = z
  .strictObject({
    approvalId: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: 'The decided approval to apply (default: the one recorded for the run).' }),
  })
  .openapi('ResumeRun', { description: 'Resume a held run whose approval was decided.' });

/** Body of POST /v1/runs/:id/resolve. */
export const resolveRequest = z
  .strictObject({
    resolution: z
      .enum(['confirmed', 'retried', 'failed'])
      .openapi({ description: 'The in-doubt call happened (confirmed), run it again (retried), or fail the run (failed).' }),
    result: z
      .string()
      .max(100_000)
      .optional()
      .openapi({ description: 'With confirmed: what the call returned, as the agent will read it.' }),
    reason: z.string().max(2000).optional().openapi({ description: 'Why, in the resolver\u2019s words.' }),
  })
  .openapi('ResolveRun', { description: 'Settle the actions a crash left in doubt in a run held with reason outcome_unknown.' });

export const resolveResponse = z
  .object({
    runId: z.string(),
    resolution: z.enum(['confirmed', 'retried', 'failed']),
    by: z.string(),
    result: runResult.optional().openapi({ description: 'How the run went on, when it settled within 200 ms.' }),
    status: z.literal('running').optional().openapi({ description: 'The run goes on in the background.' }),
  })
  .openapi('Resolution');

/** Body of POST /v1/runs/:id/replay: without policies a replay, with them a what-if. */
export const replayRequest = z
  .strictObject({
    policies: z
      .array(z.string().min(1).max(200_000))
      .max(20)
      .optional()
      .openapi({ description: 'Policy YAML sources to re-decide the run under (what-if).' }),
  })
  .openapi('Replay', { description: 'Replay a recorded run, or re-decide it under other policies.' });

/** Body of POST /v1/policies/impact. */
export const impactRequest = z
  .strictObject({
    policies: z
      .array(z.string().min(1).max(200_000))
      .min(1)
      .max(20)
      .openapi({ description: 'Policy YAML sources to re-decide recorded runs under.' }),
    agent: z.string().optional().openapi({ description: 'Only runs of this agent.' }),
    since: z.iso.datetime().optional().openapi({ description: 'Only runs started at or after this time.' }),
  })
  .openapi('PolicyImpact', { description: 'Impact of a policy change on recorded runs.' });

// ---------------------------------------------------------------- approvals

/** POST /v1/approvals/{id}/approve|reject. */
export const voteRequest = z
  .strictObject({
    comment: z.string().max(2000).optional().openapi({ description: 'Why, in the approver\u2019s words.' }),
  })
  .openapi('Vote', { description: 'A vote on a held action.' });

const approvalStatus = z.enum(['pending', 'approved', 'rejected', 'expired', 'consumed']);

/** An approval and its votes. */
export const approvalSchema = z
  .object({
    id: z.string().openapi({ example: 'apr_3f9c2a1b7d4e5f60' }),
    runId: z.string(),
    step: z.number().int(),
    action: z
      .object({ kind: z.string(), name: z.string(), args: z.unknown() })
      .openapi({ description: 'The held action with its exact arguments.' }),
    argsHash: z.string(),
    policyHash: z.string(),
    requirement: z.record(z.string(), z.unknown()).openapi({ description: 'Who may approve, how many, and what expiry does.' }),
    requestedBy: z.string().openapi({ description: 'The run\u2019s principal (who cannot approve under separation of duties).' }),
    context: z.record(z.string(), z.unknown()),
    status: approvalStatus,
    outcome: z.enum(['approved', 'rejected']).nullable(),
    requestedAt: instant,
    expiresAt: instant.nullable(),
    decidedAt: instant.nullable(),
    consumedAt: instant.nullable(),
    votes: z.array(
      z
        .object({
          approver: z.string(),
          roles: z.array(z.string()),
          vote: z.enum(['approve', 'reject']),
          comment: z.string().optional(),
          at: instant,
        })
        .openapi('ApprovalVote'),
    ),
  })
  .openapi('Approval');

/** GET /v1/approvals query. */
export const listApprovalsQuery = z.strictObject({
  status: approvalStatus.optional(),
  runId: z.string().max(200).optional(),
});

export const approvalListResponse = z.object({ approvals: z.array(approvalSchema) }).openapi('ApprovalList');
export const approvalResponse = z.object({ approval: approvalSchema });
export const voteResponse = z
  .object({
    result: z
      .enum(['counted', 'approved', 'rejected'])
      .openapi({ description: 'counted: more votes are needed; approved or rejected: decided.' }),
    remaining: z.number().int().optional().openapi({ description: 'With counted: votes still needed.' }),
    approval: approvalSchema,
    resumed: z
      .boolean()
      .openapi({ description: 'Whether the decided run resumed on this server (follow it with GET /v1/runs/{id}/events).' }),
  })
  .openapi('VoteResult');

// ---------------------------------------------------------------- tokens

/** POST /v1/tokens. */
export const createTokenRequest = z
  .strictObject({
    principal: z.string().min(1).max(320).openapi({ description: 'Who the token acts for.', example: 'alice@acme.example' }),
    roles: z
      .array(z.string().min(1).max(100))
      .min(1)
      .max(50)
      .openapi({ description: 'Server roles and policy roles the token carries.', example: ['operator'] }),
    description: z.string().max(500).optional().openapi({ description: 'What the token is for.' }),
    expiresInMs: z.number().int().positive().optional().openapi({ description: 'Lifetime in milliseconds (absent: never expires).' }),
  })
  .openapi('CreateToken', { description: 'Create an API token; the secret is in the answer, once.' });

const tokenFields = {
  id: z.string(),
  principal: z.string(),
  roles: z.array(z.string()),
  description: z.string().nullable(),
  createdAt: instant,
  lastUsedAt: instant.nullable(),
  revokedAt: instant.nullable(),
  expiresAt: instant.nullable(),
  rotatedFrom: z.string().nullable(),
};
export const tokenInfo = z.object(tokenFields).openapi('Token', { description: 'An API token, never its secret.' });
export const createdToken = z
  .object({ ...tokenFields, token: z.string().openapi({ description: 'The secret, shown this once.' }) })
  .openapi('CreatedToken');
export const tokenListResponse = z.object({ tokens: z.array(tokenInfo) }).openapi('TokenList');

// ---------------------------------------------------------------- policies

/** POST /v1/policies/validate. */
export const validatePolicyRequest = z
  .strictObject({
    source: z.string().min(1).max(1_000_000).openapi({ description: 'Policy YAML.' }),
    file: z.string().max(500).optional().openapi({ description: 'File name used in error locations.' }),
  })
  .openapi('ValidatePolicy', { description: 'Validate a policy document.' });

/** A located problem (core/src/yaml-source.ts:SourceProblem), with its one-line rendering. */
const policyProblem = z
  .object({
    message: z.string().openapi({ description: 'One sentence: what is wrong and what would be right.' }),
    location: z
      .object({
        file: z.string().optional(),
        line: z.number().int().optional(),
        column: z.number().int().optional(),
        path: z.string().optional(),
      })
      .openapi({ description: 'Where: file, line and column (1-based) and the field path; as much as is known.' }),
    text: z.string().openapi({
      description: 'The problem as one line, `file:line:column: path: message`, rendered as the CLI prints it (core formatLocation).',
      example: 'order-desk.yaml:5:12: spec.default: Must be one of autonomous, notify_human, require_approval, deny.',
    }),
  })
  .openapi('LocatedProblem');
export const policyListResponse = z
  .object({
    policies: z.array(
      z
        .object({
          name: z.string(),
          version: z.union([z.string(), z.number()]),
          owner: z.string().nullable(),
          file: z.string(),
          hash: z.string(),
          rules: z.number().int(),
        })
        .openapi('PolicyInfo'),
    ),
    problems: z.array(policyProblem),
  })
  .openapi('PolicyList');
export const policyValidationResponse = z
  .object({
    ok: z.boolean(),
    policy: z
      .object({ name: z.string(), version: z.union([z.string(), z.number()]), hash: z.string(), rules: z.number().int() })
      .optional(),
    problems: z.array(policyProblem),
  })
  .openapi('PolicyValidation');

/** POST /v1/policies/test body. */
export const testPolicyRequest = z
  .strictObject({
    name: z.string().min(1).max(200).openapi({ description: 'The policy (in the server\u2019s policy folder) whose test cases to run.' }),
    source: z
      .string()
      .min(1)
      .max(1_000_000)
      .optional()
      .openapi({ description: 'Edited policy YAML to run the cases against instead of the file (nothing is saved).' }),
  })
  .openapi('TestPolicy', {
    description: 'Run a policy\u2019s test cases (its folder\u2019s tests/<authority>.yaml), as `factory policy test` does.',
  });

export const policyTestResponse = z
  .object({
    report: z
      .object({
        total: z.number().int(),
        passed: z.number().int(),
        failed: z.number().int(),
        results: z.array(
          z.object({
            name: z.string(),
            file: z.string().openapi({ description: 'The test file, relative to the policy folder.' }),
            line: z.number().int(),
            expected: authority,
            actual: authority,
            passed: z.boolean(),
            failures: z.array(z.string()),
            rules: z.array(z.string()).openapi({ description: 'policy/rule ids of the rules that matched.' }),
          }),
        ),
      })
      .nullable()
      .openapi({ description: 'null when the policy has no test cases (see message).' }),
    message: z.string().optional(),
  })
  .openapi('PolicyTestReport');

// ---------------------------------------------------------------- usage

/** GET /v1/usage query. */
export const usageQuery = z.strictObject({
  by: z.string().max(100).optional().openapi({
    description: 'Comma-separated dimensions to group by: team, feature, agent, model (default team,feature).',
    example: 'team,feature',
  }),
  since: timeBound.optional().openapi({ description: 'Calls answered at or after (ISO time or a duration ago: 30d).' }),
  until: timeBound.optional().openapi({ description: 'Calls answered before.' }),
});

const usageFigures = {
  runs: z.number().int().openapi({ description: 'Runs that made at least one of these calls.' }),
  calls: z.number().int().openapi({ description: 'Model calls answered.' }),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  costUsd: z.number(),
};
const usageRow = z
  .object({
    team: z.string().nullable().optional(),
    feature: z.string().nullable().optional(),
    agent: z.string().nullable().optional(),
    model: z.string().nullable().optional(),
    ...usageFigures,
  })
  .openapi('UsageRow', { description: 'One group: the dimensions grouped by (null when unknown), and its figures.' });
const usageTotal = z.object(usageFigures);
export const usageResponse = z
  .object({
    by: z.array(z.enum(['team', 'feature', 'agent', 'model'])),
    since: instant.nullable(),
    until: instant.nullable(),
    rows: z.array(usageRow),
    total: usageTotal,
  })
  .openapi('UsageReport', { description: 'Cost and tokens of the model calls recorded in the trace, by descending cost.' });

/** Every server role, as x-roles lists them. */
export const everyRoleNames = ['operator', 'approver', 'auditor', 'risk_officer', 'admin'];

// ---------------------------------------------------------------- console: approvals inbox, notifications, policy source, stats

/** The decision recorded at a held step (approvals do not carry its rules; the trace does). */
const holdingDecision = z
  .object({ authority: z.string(), reason: z.string().optional(), rules: z.array(z.unknown()) })
  .openapi('HoldingDecision', { description: 'The decision that held the action: its authority, reason and matched rules.' });

/** A pending approval as the inbox shows it to one principal. */
export const inboxApprovalSchema = approvalSchema
  .extend({
    decision: holdingDecision.nullable(),
    agent: z.string().nullable().openapi({ description: 'The agent of the held run.' }),
    eligibility: z
      .object({
        mayVote: z.boolean(),
        reason: z.string().optional().openapi({ description: 'Why not, and who may (separation of duties, roles).' }),
      })
      .openapi({ description: 'Whether the principal watching may vote on it.' }),
  })
  .openapi('InboxApproval');

/** What each message of GET /v1/streams/approvals carries. */
export const approvalInboxMessage = z
  .object({
    approvals: z
      .array(inboxApprovalSchema)
      .openapi({ description: 'Every pending approval the principal may see, whole (replace, do not merge).' }),
  })
  .openapi('ApprovalInbox');

/** An inbox notification. */
export const notificationSchema = z
  .object({
    id: z.number().int().openapi({ description: 'Outbox id; also sent as the X-Aifactory-Delivery header.' }),
    runId: z.string(),
    target: z.string().openapi({ description: 'webhook:<url>, inbox:<name>, slack:#channel, email:<address> or log.' }),
    kind: z.enum(['webhook', 'inbox', 'slack', 'email', 'log']),
    payload: z.unknown().openapi({ description: 'The JSON body delivered.' }),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    nextAttemptAt: instant,
    lastError: z.string().nullable(),
    createdAt: instant,
    deliveredAt: instant.nullable(),
    readAt: instant.nullable(),
  })
  .openapi('Notification');

export const notificationListResponse = z
  .object({ notifications: z.array(notificationSchema).openapi({ description: 'Newest first.' }) })
  .openapi('NotificationList');
export const notificationsReadResponse = z
  .object({ marked: z.array(z.number().int()).openapi({ description: 'Ids of the items marked read now.' }) })
  .openapi('NotificationsRead');

export const policySourceResponse = z
  .object({
    policy: z.object({
      name: z.string(),
      version: z.string(),
      hash: z.string(),
      file: z.string(),
      source: z.string().openapi({ description: 'The policy file\u2019s YAML text.' }),
    }),
  })
  .openapi('PolicySource');

export const statsResponse = z
  .object({
    stats: z.object({
      since: instant,
      until: instant,
      bucket: z.enum(['hour', 'day']),
      decisions: z
        .array(z.object({ at: instant, authority: z.string(), count: z.number().int() }))
        .openapi({ description: 'Decisions by authority per bucket.' }),
      approvalLatencies: z
        .array(
          z.object({
            approvalId: z.string(),
            runId: z.string(),
            outcome: z.enum(['granted', 'rejected', 'expired']),
            requestedAt: instant,
            seconds: z.number(),
          }),
        )
        .openapi({ description: 'The latest decided approvals in the window (at most 1,000), oldest first.' }),
      runsByStatus: z.record(z.string(), z.number().int()).openapi({ description: 'Runs started in the window, by status.' }),
      costByTeamAndFeature: z.array(usageRow),
      costTotal: usageTotal,
    }),
  })
  .openapi('Stats', { description: 'What the console charts.' });

// ---------------------------------------------------------------- feedback

/** A feedback record. */
export const feedbackSchema = z
  .object({
    id: z.string().openapi({ description: 'The feedback record\u2019s own id (a sealed chain).' }),
    runId: z.string(),
    agent: z.string().openapi({ description: 'The agent of the run the feedback is about.' }),
    by: z.string(),
    score: z.number(),
    sentiment: z.enum(['positive', 'neutral', 'negative']),
    comment: z.string().optional(),
    correction: z.string().optional(),
    input: z.string().optional().openapi({ description: 'The run\u2019s input text, when it had one.' }),
    givenAt: instant,
    runHead: z
      .object({ seq: z.number().int(), hash: z.string() })
      .openapi({ description: 'The run\u2019s head when the feedback was given.' }),
  })
  .openapi('Feedback');

export const feedbackResponse = z.object({ feedback: feedbackSchema });
export const feedbackListResponse = z
  .object({ feedback: z.array(feedbackSchema).openapi({ description: 'Newest first.' }) })
  .openapi('FeedbackList');

// ---------------------------------------------------------------- operator routes: token rotation, verify all

export const rotatedTokenResponse = z
  .object({
    created: createdToken.openapi({ description: 'The new token and its secret, shown this once.' }),
    previous: tokenInfo.openapi({ description: 'The old token, revoked now or expiring after the grace period.' }),
  })
  .openapi('RotatedToken');

export const verifyAllResponse = z
  .object({
    summary: z
      .object({
        ok: z.boolean().openapi({ description: 'True when every run and the seal chain verify.' }),
        runs: z.number().int(),
        events: z.number().int(),
        erased: z.number().int(),
        sealed: z.number().int(),
        failed: z.number().int(),
        failures: z
          .array(z.record(z.string(), z.unknown()))
          .openapi({ description: 'The failing runs\u2019 verification reports (at most 100).' }),
        warnings: z.array(z.string()),
        sealChain: z.record(z.string(), z.unknown()).openapi({ description: 'The seal chain\u2019s verdict.' }),
        problem: z.record(z.string(), z.unknown()).optional().openapi({ description: 'The first break anywhere, when not ok.' }),
        pinned: z.boolean().openapi({ description: 'Whether seal keys were pinned; unpinned results only prove self-consistency.' }),
        tail: z.record(z.string(), z.unknown()).openapi({ description: 'How the newest seals were checked (witness, anchor or none).' }),
      })
      .openapi('VerificationSummary'),
    location: z.literal('server'),
  })
  .openapi('VerifyAll');
