// The vocabulary of a run's trace: every event type (noun.past-tense) and the zod schema of its
// payload. Schemas require the fields auditors and replay rely on and let extra fields through
// (objects are loose), so a payload can grow without a new version while a payload missing what
// an event means, or carrying it with the wrong type, is refused before anything is written.
import { z } from 'zod';

const step = z.number().int().nonnegative();
const nonEmpty = z.string().min(1);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lower-case hex sha256');
const authority = z.enum(['autonomous', 'notify_human', 'require_approval', 'deny']);
const errorInfo = z.union([nonEmpty, z.looseObject({ message: z.string(), code: z.string().optional() })]);

const runStarted = z.looseObject({
  agent: nonEmpty,
  team: z.string().nullable().optional(),
  principal: nonEmpty,
  input: z.unknown().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  replay_of: z.string().nullable().optional(),
  parent_run_id: z.string().nullable().optional(),
});

const usage = z.looseObject({
  inputTokens: z.number().nonnegative().optional(),
  outputTokens: z.number().nonnegative().optional(),
  input_tokens: z.number().nonnegative().optional(),
  output_tokens: z.number().nonnegative().optional(),
});

const approvalBase = z.looseObject({ approval_id: nonEmpty, step });

/** Payload schemas by event type; version 1 of each. */
export const eventPayloadSchemas = {
  'run.started': runStarted,
  'run.completed': z.looseObject({}),
  'run.failed': z.looseObject({ error: errorInfo.optional() }),
  'run.held': z.looseObject({ step, approval_id: nonEmpty.optional() }),
  'resume.refused': z.looseObject({ reason: nonEmpty, problem: z.string().optional() }),
  'run.resumed': z.looseObject({ step, approval_id: nonEmpty.optional(), outcome: z.enum(['approved', 'rejected']).optional() }),
  /** A live process took over a run whose owner died (its lease lapsed) and goes on from its last checkpoint. */
  'run.recovered': z.looseObject({ epoch: z.number().int().positive(), owner: nonEmpty, previous_owner: z.string().nullable().optional() }),
  /** A human settled an action whose outcome a crash left unknown: it happened (confirmed), run it again (retried), or fail the run. */
  'action.resolved': z.looseObject({
    step,
    call_id: z.string().optional(),
    name: nonEmpty,
    resolution: z.enum(['confirmed', 'retried', 'failed']),
    by: nonEmpty,
  }),
  'model.requested': z.looseObject({ step, request_hash: sha256.optional() }),
  'model.responded': z.looseObject({
    step,
    model: z.string().optional(),
    usage: usage.optional(),
    cost_usd: z.number().nonnegative().optional(),
  }),
  'model.failed': z.looseObject({ step, error: errorInfo }),
  'policy.decided': z.looseObject({
    step,
    action: z.looseObject({
      kind: nonEmpty,
      name: nonEmpty,
      args: z.record(z.string(), z.unknown()).optional(),
      args_hash: sha256.optional(),
    }),
    decision: z.looseObject({ authority, rules: z.array(z.unknown()), reason: z.string().optional() }),
  }),
  'approval.requested': approvalBase,
  'approval.voted': approvalBase.extend({ approver: nonEmpty, vote: z.enum(['approve', 'reject']) }),
  'approval.granted': approvalBase,
  'approval.rejected': approvalBase,
  'approval.expired': approvalBase,
  'approval.consumed': approvalBase,
  'approval.refused': z.looseObject({ approval_id: nonEmpty, step: step.optional(), reason: nonEmpty }),
  'notification.queued': z.looseObject({ target: nonEmpty.optional(), targets: z.array(z.string()).optional() }),
  'notification.sent': z.looseObject({ target: nonEmpty.optional() }),
  'notification.failed': z.looseObject({ error: errorInfo }),
  'tool.called': z.looseObject({ step, name: nonEmpty, call_id: z.string().optional(), args: z.unknown().optional() }),
  'tool.returned': z.looseObject({ step, name: nonEmpty, call_id: z.string().optional() }),
  'tool.failed': z.looseObject({ step, name: nonEmpty, call_id: z.string().optional(), error: errorInfo }),
  'retrieval.performed': z.looseObject({
    step,
    chunks: z.array(z.looseObject({ id: nonEmpty, content_hash: nonEmpty })),
  }),
  'handoff.started': z.looseObject({ step, name: nonEmpty }),
  'answer.given': z.looseObject({ step, text: z.string() }),
  'budget.exceeded': z.looseObject({ limit: nonEmpty, value: z.number(), max: z.number() }),
  'auth.decided': z.looseObject({ principal: nonEmpty, outcome: z.enum(['allowed', 'denied']) }),
  /**
   * A person's feedback on a run. Recorded in a feedback record of its own (a sealed chain whose
   * run.started names the run and the head it had), never appended to the run: a run's chain ends
   * with its seal and feedback mostly comes after (see @aifactory/quality feedback.ts).
   */
  'feedback.given': z.looseObject({
    run_id: nonEmpty,
    run_head: z.looseObject({ seq: z.number().int().nonnegative(), hash: sha256 }),
    by: nonEmpty,
    score: z.number().min(-1).max(1),
    sentiment: z.enum(['positive', 'neutral', 'negative']),
    comment: z.string().optional(),
    correction: z.string().optional(),
  }),
  /**
   * The quality line's records (@aifactory/quality): each lives in a sealed record of its own, like
   * feedback. A prompt version was published (its template is immutable from here on).
   */
  'prompt.published': z.looseObject({
    prompt: nonEmpty,
    version: z.number().int().positive(),
    content_hash: sha256,
    template: z.string(),
    by: nonEmpty,
  }),
  /** A label (production, staging...) was moved to a prompt version, after its promotion was decided (or by a rollback). */
  'prompt.promoted': z.looseObject({
    prompt: nonEmpty,
    version: z.number().int().positive(),
    label: nonEmpty,
    previous_version: z.number().int().positive().nullable(),
    by: nonEmpty,
  }),
  /** A promotion was refused: the policy denied it, or its approval was rejected or invalid. */
  'prompt.promotion_refused': z.looseObject({
    prompt: nonEmpty,
    version: z.number().int().positive(),
    label: nonEmpty,
    by: nonEmpty,
    reason: nonEmpty,
  }),
  /** An evaluation suite ran: its verdict and scores, and the prompt and model versions it tested. */
  'eval.completed': z.looseObject({
    suite: nonEmpty,
    agent: nonEmpty,
    passed: z.boolean(),
    scores: z.record(z.string(), z.number()),
    cases: z.number().int().nonnegative(),
  }),
  /** An MCP tool's definition (description, schemas) was pinned on first sight: its hash is what later listings are held to. */
  'tool.pinned': z.looseObject({ server: nonEmpty, tool: nonEmpty, definition_hash: sha256 }),
  /** An MCP tool's definition differs from its pin (possible tool poisoning); what the policy decided follows in policy.decided. */
  'tool.changed': z.looseObject({
    server: nonEmpty,
    tool: nonEmpty,
    pinned_hash: sha256,
    definition_hash: sha256,
    changed: z.array(z.string()),
  }),
} as const;

/** Every event type a run's trace may hold. */
export type EventType = keyof typeof eventPayloadSchemas;

/** Every event type, in declaration order. */
export const eventTypes = Object.keys(eventPayloadSchemas) as EventType[];

/** The current payload schema version of every event type. */
export const currentSchemaVersion = 1;

/** Types that end a run; each is recorded by finishRun() and followed by a seal. */
export const terminalEventTypes: ReadonlySet<EventType> = new Set<EventType>(['run.completed', 'run.failed']);

/** Whether a string names a known event type (own keys only: the name is caller-controlled). */
export function isEventType(type: unknown): type is EventType {
  return typeof type === 'string' && Object.hasOwn(eventPayloadSchemas, type);
}
