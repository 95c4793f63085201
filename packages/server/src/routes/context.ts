// What every route module of the HTTP API is given: the workspace and its store, the run hub,
// the log and metrics, and the shared request helpers (roles, visibility, bodies, streams).
// createHttpApp (http-app.ts) builds one RouteContext and hands it to each register...Routes.
import { ErrorCode } from '@aifactory/core';
import type { InDoubtSettlement, RunEvent, RunResult } from '@aifactory/execution';
import type { Store } from '@aifactory/store';
import type { RunRecord } from '@aifactory/verification/internal';
import type { Workspace } from '@aifactory/workspace';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { z } from 'zod';
import type { ServerRole, TokenPrincipal } from '../api-tokens.ts';
import type { ServerMetrics } from '../metrics.ts';
import type { RunChannel, RunHub } from '../run-hub.ts';
import type { RunFollower } from '../run-follower.ts';
import type { ServerLog } from '../server-log.ts';

/** The Hono app the routes are mounted on. */
/** The app; a route that starts a run names it (`runId`) for the request's log line. */
export type ApiApp = OpenAPIHono<{ Variables: { principal: TokenPrincipal; runId: string; requestId: string } }>;

/** Roles that read every run (operators read their own). */
export const runReaders: readonly ServerRole[] = ['auditor', 'risk_officer', 'admin'];
/** Roles that read every approval (operators read those of their own runs). */
export const approvalReaders: readonly ServerRole[] = ['approver', 'auditor', 'admin'];
/** Every server role. */
export const everyRole: readonly ServerRole[] = ['operator', 'approver', 'auditor', 'risk_officer', 'admin'];

/** An error answered with a status and a JSON body. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly path: string | undefined;
  constructor(status: number, code: string, message: string, path?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
  }
}

/** The 404 answered alike for absent and hidden things. */
export const notVisible = (what: string) => new HttpProblem(404, ErrorCode.NotFound, `No ${what} is visible to you.`);

/** The run row as the store holds it. */
export type RunRow = RunRecord;

/** Starts and resumes runs: in this process (the workspace's runtime), or through the job queue (QueuedRuns, `serve --queue`). */
export interface RunDriver {
  start: Workspace['startRun'];
  resume: Workspace['runtime']['resume'];
  /** Settles a run held with reason outcome_unknown and lets it go on (absent: this process drives it, resolveInDoubt). */
  resolve?: (runId: string, request: InDoubtSettlement) => Promise<RunResult | { runId: string; status: 'running' }>;
}

/** What route modules share. */
export interface RouteContext {
  workspace: Workspace;
  /** Who drives the runs the routes start and resume. */
  runs: RunDriver;
  /** Follows, from the store, runs another process drives: one read a poll for all of this server's streams. */
  follower: RunFollower;
  store: Store;
  /** Redacted structured log. */
  log: ServerLog;
  metrics: ServerMetrics | undefined;
  hub: RunHub;
  /** Aborted when the server begins shutting down. */
  closing: AbortSignal;
  /** Counts and logs an auth decision. */
  authDecided(principal: string, outcome: 'allowed' | 'denied', details: Record<string, unknown>): void;
  /** Records an auth decision in a held run's trace. */
  recordAgainstHeldRun(runId: string, payload: Record<string, unknown>): Promise<void>;
  /** Counts a run driven by this process until `promise` settles (for drain). */
  track<T>(promise: Promise<T>): Promise<T>;
  /** Authenticates the request's bearer token (for routes outside /v1). */
  authenticate(c: Context): Promise<TokenPrincipal>;
  hasRole(principal: TokenPrincipal, roles: readonly string[]): boolean;
  /** Admits a principal with one of `roles`, else answers as if nothing were there. */
  requireRole(c: Context, roles: readonly ServerRole[], what?: string): TokenPrincipal;
  /** The run row if `principal` may see it; 404 otherwise, alike for absent and hidden runs. */
  visibleRun(principal: TokenPrincipal, runId: string): Promise<RunRow>;
  /** Reads and validates a JSON body (for routes not defined with app.openapi, which validates itself). */
  readBody<T>(c: Context, schema: z.ZodType<T>): Promise<T>;
  /** Validates the query (for routes not defined with app.openapi). */
  readQuery<T>(c: Context, schema: z.ZodType<T>): T;
  /** Streams a channel from `afterId` until `until` says the stream is done, the client leaves or the server closes. */
  streamChannel(c: Context, channel: RunChannel, afterId: number, until: (event: RunEvent) => boolean): Response;
}

/** Validates `value`; a failure is a 400 naming every offending field. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw validationProblem(parsed.error, where);
}

/** A failed validation as a 400 naming every offending field. */
export function validationProblem(error: z.ZodError, where: string): HttpProblem {
  const issues = error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : where;
    const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    return { field, message: `${field}: ${issue.message}${keys}` };
  });
  return new HttpProblem(
    400,
    ErrorCode.InputInvalid,
    `Invalid request ${where}: ${issues.map((issue) => issue.message).join('; ')}.`,
    issues[0]?.field,
  );
}
