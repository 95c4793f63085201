// Incident forensics over recorded decisions: find the governed actions (and so the runs) by
// tool, authority, rule, principal, time range, text in the arguments and numeric conditions on
// them ("which runs refunded more than 1,000 last week?"). Reads policy.decided events only.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { queryRows, toDate } from './store-access.ts';

/** A condition on one argument: `amount>1000`, `currency=EUR`, `order.total<=50`. */
export interface ArgumentCondition {
  /** Dot path under the action's arguments. */
  path: string;
  operator: '>' | '>=' | '<' | '<=' | '=' | '!=';
  /** Numbers compare numerically, anything else as text. */
  value: number | string;
}

/** What to look for; every given filter must hold. */
export interface RunSearchQuery {
  /** Action name; `*` matches any run of characters (`payments.*`). */
  tool?: string;
  /** Action kind: tool, model, retrieval, handoff, answer. */
  kind?: string;
  authority?: string;
  /** Rule id, or `policy/rule`. */
  rule?: string;
  principal?: string;
  agent?: string;
  /** Decided at or after. */
  since?: Date;
  /** Decided before. */
  until?: Date;
  /** Case-insensitive text anywhere in the recorded arguments. */
  text?: string;
  where?: ArgumentCondition[];
  /** Include replays (default: recorded runs only). */
  includeReplays?: boolean;
  /** At most this many actions (default 200). */
  limit?: number;
}

/** One governed action that matched. */
export interface RunSearchHit {
  runId: string;
  agent: string;
  principal: string;
  step: number;
  decidedAt: Date;
  kind: string;
  name: string;
  args: Record<string, unknown>;
  authority: string;
  rules: string[];
}

const authorities = ['autonomous', 'notify_human', 'require_approval', 'deny'];
const conditionPattern = /^\s*([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\s*(>=|<=|!=|>|<|=)\s*([^<>=!\s].*?)\s*$/;

/** Parses `amount>1000` into a condition; INPUT_INVALID names the text when it is not one. */
export function parseArgumentCondition(text: string): ArgumentCondition {
  const match = conditionPattern.exec(text);
  if (!match)
    throw new UserError(
      ErrorCode.InputInvalid,
      `'${text}' is not an argument condition; write <path><op><value> with op one of > >= < <= = !=, e.g. amount>1000.`,
      { location: { path: 'where' } },
    );
  const raw = match[3]!.replace(/^["']|["']$/g, '');
  const number = Number(raw.replace(/,/g, ''));
  return {
    path: match[1]!,
    operator: match[2] as ArgumentCondition['operator'],
    value: raw !== '' && Number.isFinite(number) ? number : raw,
  };
}

/** Finds recorded decisions matching `query`, oldest first. */
export async function searchRuns(store: Store, query: RunSearchQuery): Promise<RunSearchHit[]> {
  if (query.authority !== undefined && !authorities.includes(query.authority)) {
    throw new UserError(ErrorCode.InputInvalid, `Authority '${query.authority}' is unknown; use one of ${authorities.join(', ')}.`, {
      location: { path: 'authority' },
    });
  }
  const conditions = [`e.type = 'policy.decided'`, 'e.payload IS NOT NULL'];
  const params: unknown[] = [];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(condition(`$${params.length}`));
  };
  if (!query.includeReplays) conditions.push('r.replay_of IS NULL');
  if (query.tool !== undefined)
    add(
      (p) => `(e.payload::jsonb #>> '{action,name}') LIKE ${p}`,
      query.tool.replace(/[\\%_]/g, (character) => `\\${character}`).replace(/\*/g, '%'),
    );
  if (query.kind !== undefined) add((p) => `(e.payload::jsonb #>> '{action,kind}') = ${p}`, query.kind);
  if (query.authority !== undefined) add((p) => `(e.payload::jsonb #>> '{decision,authority}') = ${p}`, query.authority);
  if (query.rule !== undefined) {
    add(
      (p) =>
        `EXISTS (SELECT 1 FROM jsonb_array_elements(e.payload::jsonb #> '{decision,rules}') rule WHERE rule->>'ruleId' = ${p} OR (rule->>'policy') || '/' || (rule->>'ruleId') = ${p})`,
      query.rule,
    );
  }
  if (query.principal !== undefined) add((p) => `r.principal = ${p}`, query.principal);
  if (query.agent !== undefined) add((p) => `r.agent = ${p}`, query.agent);
  if (query.since) add((p) => `e.ts >= ${p}::timestamptz`, query.since.toISOString());
  if (query.until) add((p) => `e.ts < ${p}::timestamptz`, query.until.toISOString());
  if (query.text !== undefined)
    add(
      (p) => `((e.payload::jsonb #> '{action,args}')::text) ILIKE ${p}`,
      `%${query.text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`,
    );
  for (const condition of query.where ?? []) {
    if (!conditionPattern.test(`${condition.path}=x`) || !['>', '>=', '<', '<=', '=', '!='].includes(condition.operator)) {
      throw new UserError(ErrorCode.InputInvalid, `Argument condition on '${condition.path}' is not valid.`, {
        location: { path: 'where' },
      });
    }
    // The path is validated above (letters, digits, _ and - between dots), and still passed as a parameter.
    params.push(`{action,args,${condition.path.split('.').join(',')}}`);
    const path = `$${params.length}::text[]`;
    const operator = condition.operator === '!=' ? '<>' : condition.operator;
    if (typeof condition.value === 'number') {
      add(
        (p) =>
          `(CASE WHEN jsonb_typeof(e.payload::jsonb #> ${path}) = 'number' THEN (e.payload::jsonb #>> ${path})::numeric ${operator} ${p}::numeric ELSE false END)`,
        condition.value,
      );
    } else add((p) => `(e.payload::jsonb #>> ${path}) ${operator} ${p}`, condition.value);
  }
  params.push(query.limit ?? 200);
  const rows = await queryRows(
    store,
    `SELECT e.run_id, r.agent, r.principal, e.ts, e.payload
     FROM events e JOIN runs r ON r.id = e.run_id
     WHERE ${conditions.join(' AND ')}
     ORDER BY e.ts, e.run_id, e.seq LIMIT $${params.length}`,
    params,
  );
  return rows.map((row) => {
    const payload = JSON.parse(String(row.payload)) as {
      step: number;
      action: { kind: string; name: string; args?: Record<string, unknown> };
      decision: { authority: string; rules?: Array<{ policy: string; ruleId: string }> };
    };
    return {
      runId: String(row.run_id),
      agent: String(row.agent),
      principal: String(row.principal),
      step: payload.step,
      decidedAt: toDate(row.ts),
      kind: payload.action.kind,
      name: payload.action.name,
      args: payload.action.args ?? {},
      authority: payload.decision.authority,
      rules: (payload.decision.rules ?? []).map((rule) => `${rule.policy}/${rule.ruleId}`),
    };
  });
}
