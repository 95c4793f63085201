// The shape of an AutonomyPolicy document, as zod checks it and as the shipped JSON Schema
// (schema/autonomy-policy.schema.json, generated from this file) describes it to editors.
// Semantics that a shape cannot express (CEL, globs, duplicate ids) are checked in parse-policy.ts.
import { z } from 'zod';

const authority = z
  .enum(['autonomous', 'notify_human', 'require_approval', 'deny'])
  .describe('autonomous: act alone; notify_human: act and tell someone; require_approval: hold until approved; deny: never.')
  .meta({ id: 'Authority' });

const actionKind = z
  .enum(['tool', 'model', 'retrieval', 'handoff', 'answer'])
  .describe('The kind of action: tool call, model call, retrieval, hand-off to another agent, or final answer.')
  .meta({ id: 'ActionKind' });

const identifier = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must start with a letter or digit and use only letters, digits, ".", "_" and "-"');

/** A duration such as `90s`, `15m`, `4h`, `2d`, `500ms`, or a number of seconds. */
export const durationPattern = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;
const duration = z
  .union([z.string().regex(durationPattern, 'must be a duration such as 90s, 15m, 4h or 2d'), z.number().positive()])
  .describe('A duration such as 90s, 15m, 4h, 2d or 500ms, or a number of seconds.')
  .meta({ id: 'Duration' });

const approvers = z
  .strictObject({
    roles: z
      .array(z.string().min(1))
      .optional()
      .describe('Roles that may approve; an approver needs one of them. Omitted or empty: any principal.'),
    count: z.int().min(1).max(100).optional().describe('How many distinct approvers must approve (default 1).'),
    separation_of_duties: z.boolean().optional().describe('When true (default), whoever the run acts for cannot approve its actions.'),
    expires_in: duration.optional().describe('How long the approval stays open; omitted: it never expires.'),
    on_expiry: z.enum(['deny', 'approve']).optional().describe('What an expired approval resolves to (default deny).'),
  })
  .describe('Who may approve a held action.')
  .meta({ id: 'Approvers' });

const targets = z
  .array(z.string().min(1))
  .describe('Notification targets: e-mail addresses, channels (slack:#risk) or webhook names.')
  .meta({ id: 'NotifyTargets' });

const match = z
  .strictObject({
    kind: z
      .union([actionKind, z.literal('*'), z.array(actionKind).min(1)])
      .describe('Action kind, a list of kinds, or "*" for every kind.'),
    name: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('Name glob or list of globs (default "*"): * matches any characters, ? one, [abc] a set, {a,b} alternatives.'),
  })
  .describe('Which actions the rule applies to.');

/** zod schema of one rule. */
export const ruleSchema = z
  .strictObject({
    id: identifier.describe('Rule id, unique within the policy.'),
    description: z.string().optional().describe('What the rule is for.'),
    match,
    when: z.string().min(1).optional().describe('CEL condition over action, agent, principal, run, data and now; omitted: always.'),
    authority,
    reason: z.string().min(1).optional().describe('Why; shown to the agent, to approvers and to auditors.'),
    notify: targets.optional(),
    approvers: approvers.optional(),
    redact: z
      .array(z.string().min(1))
      .optional()
      .describe('Argument fields (paths under action.args, e.g. card.number) masked before anything is recorded.'),
  })
  .describe('One rule: when an action matches (and its condition holds), the rule imposes its authority.')
  .meta({ id: 'Rule' });

const limits = z
  .strictObject({
    max_steps: z.int().min(0).optional().describe('Most actions a run may take.'),
    max_tool_calls: z.int().min(0).optional().describe('Most tool calls a run may make.'),
    max_tokens: z.int().min(0).optional().describe('Most model tokens a run may spend.'),
    max_cost_usd: z.number().min(0).optional().describe('Most money a run may spend, in US dollars.'),
    max_duration: duration.optional().describe('Longest a run may take.'),
    on_exceeded: z
      .enum(['stop', 'hold'])
      .optional()
      .describe('stop (default): the run ends as failed; hold: the run waits for an approver to let it go on.'),
  })
  .describe('Run limits; when several policies set one, the smallest wins.');

const verification = z
  .strictObject({
    audit_trail: z.boolean().optional().describe('Every decision and outcome is recorded in the hash-chained trace.'),
    replay: z.boolean().optional().describe('Everything non-deterministic is recorded so the run can be replayed.'),
    seal: z.boolean().optional().describe('Runs are sealed with a signature when they end.'),
    retention_days: z.int().min(1).optional().describe('Days the trace must be kept.'),
  })
  .describe('What the verification plane must provide for runs under this policy.');

const defaults = z
  .union([
    authority,
    z.strictObject({
      tool: authority.optional(),
      model: authority.optional(),
      retrieval: authority.optional(),
      handoff: authority.optional(),
      answer: authority.optional(),
    }),
  ])
  .describe('Authority for actions no rule matches: one for every kind, or one per kind.');

/** zod schema of an AutonomyPolicy document. */
export const policyDocumentSchema = z
  .strictObject({
    apiVersion: z.literal('aifactory/v1').describe('Format version; this build reads aifactory/v1.'),
    kind: z.literal('AutonomyPolicy'),
    metadata: z.strictObject({
      name: identifier.describe('Policy name, unique in a policy set.'),
      version: z.union([z.int().min(0), z.string().min(1)]).describe('Policy version, recorded with every decision.'),
      owner: z.string().min(1).optional().describe('Who answers for this policy.'),
      description: z.string().optional(),
      labels: z.record(z.string(), z.string()).optional(),
    }),
    spec: z.strictObject({
      default: defaults.optional(),
      approvers: approvers.optional().describe('Approvers for actions held by the default, and by rules that name none.'),
      notify: targets.optional().describe('Targets for notify_human defaults, and for rules that name none.'),
      limits: limits.optional(),
      verification: verification.optional(),
      rules: z.array(ruleSchema).optional(),
    }),
  })
  .describe('A bounded-autonomy policy: what agents may do alone, with notice, with approval, or never.');

/** A policy document as YAML gives it, after the shape check. */
export type PolicyDocument = z.infer<typeof policyDocumentSchema>;
/** A rule as written. */
export type RuleDocument = z.infer<typeof ruleSchema>;
/** The approvers block as written. */
export type ApproversDocument = z.infer<typeof approvers>;

/** The JSON Schema of the policy format, for editors (`# yaml-language-server: $schema=...`). */
export function policyJsonSchema(): Record<string, unknown> {
  const { $schema, ...schema } = z.toJSONSchema(policyDocumentSchema, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
  return { $schema, $id: 'https://aifactory.dev/schema/autonomy-policy.schema.json', title: 'aifactory AutonomyPolicy', ...schema };
}

/** The JSON Schema as shipped in schema/autonomy-policy.schema.json (2-space JSON, trailing newline). */
export function policyJsonSchemaText(): string {
  return `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
}
