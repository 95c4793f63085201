// Cost and token use by team, feature, agent and model, summed from the trace itself: every
// `model.responded` event's usage and cost, attributed through its run (the run's team, and the
// feature its start recorded). The figures are what an auditor can re-add from the events.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { queryRows } from './store-access.ts';

/** What usage can be grouped by. */
export const usageDimensions = ['team', 'feature', 'agent', 'model'] as const;
/** One dimension of a usage report. */
export type UsageDimension = (typeof usageDimensions)[number];

/** Which model calls to sum. */
export interface UsageQuery {
  /** Group by these, in this order (default team, feature). */
  by?: UsageDimension[];
  /** Calls answered at or after. */
  since?: Date;
  /** Calls answered before. */
  until?: Date;
}

/** Usage of one group; a dimension not grouped by is absent, one without a value is null. */
export interface UsageRow {
  team?: string | null;
  feature?: string | null;
  agent?: string | null;
  model?: string | null;
  /** Runs that made at least one of these calls. */
  runs: number;
  /** Model calls answered. */
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** A usage report: rows by descending cost, and their total. */
export interface UsageReport {
  by: UsageDimension[];
  since: string | null;
  until: string | null;
  rows: UsageRow[];
  total: Omit<UsageRow, UsageDimension>;
}

/** Parses `team,feature` into dimensions, naming the one that is not a dimension. */
export function parseUsageDimensions(value: string): UsageDimension[] {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  if (names.length === 0)
    throw new UserError(ErrorCode.InputInvalid, `Group usage by at least one of ${usageDimensions.join(', ')}.`, {
      location: { path: 'by' },
    });
  for (const name of names) {
    if (!(usageDimensions as readonly string[]).includes(name)) {
      throw new UserError(ErrorCode.InputInvalid, `Usage cannot be grouped by '${name}'; use any of ${usageDimensions.join(', ')}.`, {
        location: { path: 'by' },
      });
    }
  }
  return [...new Set(names)] as UsageDimension[];
}

/**
 * Sums the trace's model calls by the asked dimensions. Postgres groups by all four (one scan
 * of the model.responded events in the window); the rows are then rolled up here. Erased
 * payloads no longer say what they cost, so runs erased under GDPR drop out of the figures.
 */
export async function summarizeUsage(store: Store, query: UsageQuery = {}): Promise<UsageReport> {
  const by = query.by ?? ['team', 'feature'];
  const params: unknown[] = [];
  const conditions = [`e.type = 'model.responded'`, 'e.payload IS NOT NULL'];
  if (query.since) conditions.push(`e.ts >= $${params.push(query.since.toISOString())}::timestamptz`);
  if (query.until) conditions.push(`e.ts < $${params.push(query.until.toISOString())}::timestamptz`);
  const rows = await queryRows(
    store,
    `SELECT r.team, r.metadata ->> 'feature' AS feature, r.agent, p ->> 'model' AS model,
            array_agg(DISTINCT r.id) AS run_ids, count(*) AS calls,
            sum(COALESCE((p -> 'usage' ->> 'inputTokens')::numeric, (p -> 'usage' ->> 'input_tokens')::numeric, 0))::text AS input_tokens,
            sum(COALESCE((p -> 'usage' ->> 'outputTokens')::numeric, (p -> 'usage' ->> 'output_tokens')::numeric, 0))::text AS output_tokens,
            sum(COALESCE((p ->> 'cost_usd')::numeric, 0))::text AS cost_usd
       FROM events e JOIN runs r ON r.id = e.run_id CROSS JOIN LATERAL (SELECT e.payload::jsonb AS p) payload
      WHERE ${conditions.join(' AND ')}
      GROUP BY 1, 2, 3, 4`,
    params,
  );
  const groups = new Map<string, { row: UsageRow; runIds: Set<string> }>();
  const total = { runs: 0, calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
  const allRuns = new Set<string>();
  for (const source of rows) {
    const values: Record<UsageDimension, string | null> = {
      team: (source.team as string | null) ?? null,
      feature: (source.feature as string | null) ?? null,
      agent: (source.agent as string | null) ?? null,
      model: (source.model as string | null) ?? null,
    };
    const key = JSON.stringify(by.map((dimension) => values[dimension]));
    let group = groups.get(key);
    if (!group) {
      const row: UsageRow = { runs: 0, calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
      for (const dimension of by) row[dimension] = values[dimension];
      group = { row, runIds: new Set() };
      groups.set(key, group);
    }
    const runIds = parseTextArray(source.run_ids);
    for (const runId of runIds) {
      group.runIds.add(runId);
      allRuns.add(runId);
    }
    const calls = Number(source.calls);
    const inputTokens = Number(source.input_tokens);
    const outputTokens = Number(source.output_tokens);
    const costUsd = Number(source.cost_usd);
    group.row.calls += calls;
    group.row.inputTokens += inputTokens;
    group.row.outputTokens += outputTokens;
    group.row.costUsd += costUsd;
    total.calls += calls;
    total.inputTokens += inputTokens;
    total.outputTokens += outputTokens;
    total.costUsd += costUsd;
  }
  for (const group of groups.values()) group.row.runs = group.runIds.size;
  total.runs = allRuns.size;
  return {
    by,
    since: query.since?.toISOString() ?? null,
    until: query.until?.toISOString() ?? null,
    rows: [...groups.values()].map((group) => group.row).sort((a, b) => b.costUsd - a.costUsd || b.calls - a.calls),
    total,
  };
}

/** postgres.js returns text[] as an array; PGlite too, but older drivers give '{a,b}'. */
function parseTextArray(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string')
    return value
      .replace(/^\{|\}$/g, '')
      .split(',')
      .filter((item) => item.length > 0)
      .map((item) => item.replace(/^"|"$/g, ''));
  return [];
}
