// Finding runs: the filters auditors use (agent, status, time range, authority), streamed in
// start order a page at a time.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { livenessSql } from './run-lease.ts';
import { queryRows, toDate } from './store-access.ts';

/** Which runs. */
export interface RunFilter {
  /** These runs only. */
  runIds?: string[];
  agent?: string;
  team?: string;
  principal?: string;
  /** running (a live owner drives it), queued (no process has taken it yet, or it was handed back), orphaned (its owner died), recovering, held, completed or failed. */
  status?: string;
  /** Started at or after. */
  since?: Date;
  /** Started before. */
  until?: Date;
  /** Runs with at least one policy decision of this authority. */
  authority?: string;
  /** At most this many runs. */
  limit?: number;
  /** Oldest first (default) or newest first; both walk the (started_at, id) index. */
  order?: 'oldest' | 'newest';
  /** Only runs past this position in `order` (a page's cursor, see decodeRunCursor). */
  after?: RunPosition;
}

/** Where a run sits in the listing order: its start time, then its id to break ties. */
export interface RunPosition {
  startedAt: Date;
  id: string;
}

/** One page of runs and the opaque cursor of the next page (null on the last). */
export interface RunPage {
  runs: RunSummary[];
  nextCursor: string | null;
}

/** The opaque cursor that continues a listing after `run`. */
export function encodeRunCursor(run: RunPosition): string {
  return Buffer.from(JSON.stringify({ t: run.startedAt.toISOString(), id: run.id }), 'utf8').toString('base64url');
}

/** Reads a cursor made by encodeRunCursor; anything else is a user error naming the cursor. */
export function decodeRunCursor(cursor: string): RunPosition {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { t?: unknown; id?: unknown };
    const startedAt = typeof value.t === 'string' ? new Date(value.t) : undefined;
    if (startedAt && !Number.isNaN(startedAt.getTime()) && typeof value.id === 'string' && value.id.length > 0)
      return { startedAt, id: value.id };
  } catch {
    // fall through to the error below
  }
  throw new UserError(
    ErrorCode.InputInvalid,
    'The cursor is not one this server gave out; pass the nextCursor of a previous page unchanged.',
    { location: { path: 'cursor' } },
  );
}

/**
 * One page of at most `filter.limit` runs (newest first unless `filter.order` says otherwise),
 * with the cursor of the next. The cursor is a position, not an offset: runs started meanwhile
 * never shift a page, so walking the cursors sees each run once.
 */
export async function listRunsPage(store: Store, filter: RunFilter & { limit: number }): Promise<RunPage> {
  const found: RunSummary[] = [];
  for await (const run of listRuns(store, { order: 'newest', ...filter, limit: filter.limit + 1 }, filter.limit + 1)) found.push(run);
  const more = found.length > filter.limit;
  const runs = more ? found.slice(0, filter.limit) : found;
  return { runs, nextCursor: more ? encodeRunCursor(runs[runs.length - 1]!) : null };
}

/** A run as listed. */
export interface RunSummary {
  id: string;
  agent: string;
  team: string | null;
  principal: string;
  status: string;
  startedAt: Date;
  endedAt: Date | null;
  replayOf: string | null;
  parentRunId: string | null;
  /** Events in the run (its head seq). */
  events: number;
  /** Whether a seal exists. */
  sealed: boolean;
}

const statuses = ['running', 'queued', 'orphaned', 'recovering', 'held', 'completed', 'failed'];
const storedStatuses = new Set(['held', 'completed', 'failed']);
const authorities = ['autonomous', 'notify_human', 'require_approval', 'deny'];

/** Streams the runs matching a filter, oldest first unless `filter.order` is 'newest'. */
export async function* listRuns(store: Store, filter: RunFilter = {}, pageSize = 500): AsyncGenerator<RunSummary> {
  if (filter.status !== undefined && !statuses.includes(filter.status)) {
    throw new UserError(ErrorCode.InputInvalid, `Status '${filter.status}' is unknown; use one of ${statuses.join(', ')}.`, {
      location: { path: 'status' },
    });
  }
  if (filter.authority !== undefined && !authorities.includes(filter.authority)) {
    throw new UserError(ErrorCode.InputInvalid, `Authority '${filter.authority}' is unknown; use one of ${authorities.join(', ')}.`, {
      location: { path: 'authority' },
    });
  }
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(condition(`$${params.length}`));
  };
  if (filter.runIds) add((p) => `r.id IN (SELECT json_array_elements_text(${p}::json))`, JSON.stringify(filter.runIds));
  if (filter.agent !== undefined) add((p) => `r.agent = ${p}`, filter.agent);
  if (filter.team !== undefined) add((p) => `r.team = ${p}`, filter.team);
  if (filter.principal !== undefined) add((p) => `r.principal = ${p}`, filter.principal);
  // An ended or held status is the stored one (liveness only tells running runs apart), and a
  // plain column comparison lets the planner use it; the others need the lease.
  if (filter.status !== undefined)
    add((p) => (storedStatuses.has(filter.status!) ? `r.status = ${p}` : `(${livenessSql}) = ${p}`), filter.status);
  if (filter.since) add((p) => `r.started_at >= ${p}::timestamptz`, filter.since.toISOString());
  if (filter.until) add((p) => `r.started_at < ${p}::timestamptz`, filter.until.toISOString());
  if (filter.authority !== undefined) {
    add(
      (p) =>
        `EXISTS (SELECT 1 FROM events e WHERE e.run_id = r.id AND e.type = 'policy.decided' AND e.payload IS NOT NULL AND (e.payload::jsonb #>> '{decision,authority}') = ${p})`,
      filter.authority,
    );
  }
  const fixed = params.length;
  let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
  const newest = filter.order === 'newest';
  let after: { startedAt: string; id: string } | undefined = filter.after
    ? { startedAt: filter.after.startedAt.toISOString(), id: filter.after.id }
    : undefined;
  while (remaining > 0) {
    const pageParams = [...params];
    const pageConditions = [...conditions];
    if (after) {
      pageParams.push(after.startedAt, after.id);
      pageConditions.push(`(r.started_at, r.id) ${newest ? '<' : '>'} ($${fixed + 1}::timestamptz, $${fixed + 2})`);
    }
    pageParams.push(Math.min(pageSize, remaining));
    const rows = await queryRows(
      store,
      `SELECT r.id, r.agent, r.team, r.principal, ${livenessSql} AS status, r.started_at, r.ended_at, r.replay_of, r.parent_run_id,
              COALESCE((SELECT max(e.seq) FROM events e WHERE e.run_id = r.id), 0) AS events,
              EXISTS (SELECT 1 FROM seals s WHERE s.run_id = r.id AND s.kind = 'final') AS sealed
       FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id ${pageConditions.length > 0 ? `WHERE ${pageConditions.join(' AND ')}` : ''}
       ORDER BY ${newest ? 'r.started_at DESC, r.id DESC' : 'r.started_at, r.id'} LIMIT $${pageParams.length}`,
      pageParams,
    );
    for (const row of rows) {
      yield {
        id: row.id as string,
        agent: row.agent as string,
        team: (row.team as string | null) ?? null,
        principal: row.principal as string,
        status: row.status as string,
        startedAt: toDate(row.started_at),
        endedAt: row.ended_at ? toDate(row.ended_at) : null,
        replayOf: (row.replay_of as string | null) ?? null,
        parentRunId: (row.parent_run_id as string | null) ?? null,
        events: Number(row.events),
        sealed: row.sealed === true,
      };
    }
    remaining -= rows.length;
    if (rows.length < Math.min(pageSize, remaining + rows.length)) break;
    const last = rows[rows.length - 1]!;
    after = { startedAt: toDate(last.started_at).toISOString(), id: last.id as string };
  }
}
