// API routes the console needs beyond the run and approval routes: the approvals inbox as a live
// stream, the notification inboxes, and the figures its charts draw. Same tokens, same roles,
// same "not visible to you" 404 as every /v1 route: the console shows nothing the API would hide.
//
// The approvals stream sends the whole pending list a principal may see whenever it changes: at
// once when a run this server drives is held or an approval it records is voted on (the run hub),
// and within a poll interval when another process (a CLI run, another server on the same
// Postgres) holds or decides one. The list is small (pending approvals only), so clients replace
// their state instead of merging deltas, and a reconnect needs no Last-Event-ID.
import { readPolicyFiles } from '@aifactory/control';
import { ErrorCode } from '@aifactory/core';
import type { Approval } from '@aifactory/execution';
import { voteIneligibility } from '@aifactory/execution/approvals';
import { listNotifications, markNotificationsRead } from '@aifactory/execution/notifications';
import { runStatistics, summarizeUsage } from '@aifactory/verification';
import { findEventsOfType, findRun } from '@aifactory/verification/internal';
import type { Workspace } from '@aifactory/workspace';
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import {
  approvalInboxMessage,
  authenticatedResponses,
  bearer,
  bodyResponses,
  json,
  notificationListResponse,
  notificationsReadResponse,
  policySourceResponse,
  queryResponses,
  statsResponse,
} from '../api-schemas.ts';
import type { TokenPrincipal } from '../api-tokens.ts';
import { HttpProblem, notVisible, type ApiApp, type RouteContext } from './context.ts';
import type { RunHub } from '../run-hub.ts';

/** GET /v1/notifications query. */
export const listNotificationsQuery = z.strictObject({
  inbox: z.string().max(200).optional().describe('Only this inbox (the <name> of inbox:<name>).'),
  unread: z.enum(['true', 'false']).optional().describe('Only items nobody marked read.'),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

/** POST /v1/notifications/read body. */
export const readNotificationsRequest = z
  .strictObject({
    ids: z.array(z.number().int().positive()).max(1000).optional().describe('Mark these items read.'),
    all: z.literal(true).optional().describe('Mark every unread item read (of `inbox` when given).'),
    inbox: z.string().max(200).optional(),
  })
  .describe('Mark inbox notifications read.');

/** GET /v1/stats query. */
export const statsQuery = z.strictObject({
  since: z.iso.datetime().optional().describe('Start of the window (default: 7 days ago).'),
  until: z.iso.datetime().optional().describe('End of the window (default: now).'),
  bucket: z.enum(['hour', 'day']).optional(),
});

const approvalWatchers = ['operator', 'approver', 'auditor', 'admin'] as const;
const inboxReaders = ['approver', 'auditor', 'risk_officer', 'admin'] as const;
const statsReaders = ['auditor', 'risk_officer', 'admin'] as const;
const policyReaders = ['risk_officer', 'auditor', 'admin'] as const;

const tags = ['console'];
const roles = (names: readonly string[]) => ({ security: bearer, 'x-roles': [...names] });

/** The console's routes, as the OpenAPI document describes them. */
export const consoleRoutes = {
  approvalsStream: createRoute({
    method: 'get',
    path: '/v1/streams/approvals',
    operationId: 'streamApprovals',
    tags,
    ...roles(approvalWatchers),
    summary: 'Pending approvals you may see, live (SSE)',
    description:
      'The whole list on connect and whenever it changes, each with whether you may vote and why not. Operators see those of their own runs.',
    responses: {
      200: {
        description: 'The pending approvals, as they change.',
        content: {
          'text/event-stream': {
            schema: z.string().openapi({
              description:
                'Server-sent events: each message has `event: approvals` and `data:` one JSON ApprovalInbox, the whole list (replace, do not merge). A reconnect needs no Last-Event-ID. Comment lines (`: keep-alive`) come every 15 s.',
              example: 'event: approvals\ndata: {"approvals":[]}\n\n',
              'x-event-data': { $ref: '#/components/schemas/ApprovalInbox' },
            }),
          },
        },
      },
      ...authenticatedResponses,
    },
  }),
  notifications: createRoute({
    method: 'get',
    path: '/v1/notifications',
    operationId: 'listNotifications',
    tags,
    ...roles(inboxReaders),
    summary: 'Inbox notifications, newest first',
    request: { query: listNotificationsQuery },
    responses: { 200: json(notificationListResponse, 'The notifications.'), ...authenticatedResponses, ...queryResponses },
  }),
  markRead: createRoute({
    method: 'post',
    path: '/v1/notifications/read',
    operationId: 'markNotificationsRead',
    tags,
    ...roles(inboxReaders),
    summary: 'Mark inbox notifications read',
    request: { body: { required: true, content: { 'application/json': { schema: readNotificationsRequest } } } },
    responses: { 200: json(notificationsReadResponse, 'The items marked read now.'), ...authenticatedResponses, ...bodyResponses },
  }),
  policySource: createRoute({
    method: 'get',
    path: '/v1/policies/{name}/source',
    operationId: 'getPolicySource',
    tags,
    ...roles(policyReaders),
    summary: 'The source text of a policy, by name',
    description: 'Policies in the server\u2019s policy folder are named, never located by path (the console\u2019s editor opens them).',
    request: {
      params: z.object({
        name: z
          .string()
          .min(1)
          .max(200)
          .openapi({ param: { name: 'name', in: 'path' }, example: 'finance-ops' }),
      }),
    },
    responses: { 200: json(policySourceResponse, 'The policy and its YAML text.'), ...authenticatedResponses },
  }),
  stats: createRoute({
    method: 'get',
    path: '/v1/stats',
    operationId: 'getStats',
    tags,
    ...roles(statsReaders),
    summary: 'The figures the console charts',
    description: 'Decisions by authority over time, approval latency, runs by status and cost by team and feature.',
    request: { query: statsQuery },
    responses: { 200: json(statsResponse, 'The figures of the window.'), ...authenticatedResponses, ...queryResponses },
  }),
};

/** Options of the console's routes. */
export interface ConsoleRoutesOptions {
  /** How often the stream looks for approvals held or decided by other processes (ms, default 2000). */
  pollMs?: number;
}

/** The recorded decision that held an action: its rules and reason (approvals do not carry them; the trace does). */
export interface HoldingDecision {
  authority: string;
  reason?: string;
  rules: unknown[];
}

/** A pending approval as the inbox shows it to one principal. */
export type InboxApproval = Approval & {
  decision: HoldingDecision | null;
  agent: string | null;
  eligibility: { mayVote: boolean; reason?: string };
};

type PendingApproval = Approval & { decision: HoldingDecision | null; agent: string | null };

/** Mounts the console's API routes (after the /v1 authentication middleware). */
export function registerConsoleRoutes(app: ApiApp, ctx: RouteContext, options: ConsoleRoutesOptions = {}): void {
  const { workspace, hasRole } = ctx;
  const pending = new PendingApprovals(workspace, ctx.hub, options.pollMs ?? 2_000);
  // What each message of the approvals stream carries, as a component apps can generate types from.
  app.openAPIRegistry.register('ApprovalInbox', approvalInboxMessage);

  app.openapi(consoleRoutes.approvalsStream, (c) => {
    const principal = ctx.requireRole(c, [...approvalWatchers]);
    return streamSSE(c, async (stream) => {
      let last = '';
      let writing: Promise<unknown> = Promise.resolve();
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const send = (list: readonly PendingApproval[]) => {
        const visible = list
          .filter((approval) => hasRole(principal, ['approver', 'auditor', 'admin']) || approval.requestedBy === principal.id)
          .map((approval) => inboxView(approval, principal));
        const body = JSON.stringify({ approvals: visible });
        if (body === last) return;
        last = body;
        writing = writing.then(() => stream.writeSSE({ event: 'approvals', data: body })).catch(() => finish());
      };
      const unsubscribe = pending.subscribe(send);
      const heartbeat = setInterval(() => {
        writing = writing.then(() => stream.write(': keep-alive\n\n')).catch(() => finish());
      }, 15_000);
      const onClosing = () => finish();
      ctx.closing.addEventListener('abort', onClosing, { once: true });
      stream.onAbort(finish);
      await finished;
      clearInterval(heartbeat);
      unsubscribe();
      ctx.closing.removeEventListener('abort', onClosing);
      await writing;
    });
  });

  app.openapi(consoleRoutes.notifications, async (c) => {
    ctx.requireRole(c, [...inboxReaders]);
    const query = c.req.valid('query');
    const items = await listNotifications(workspace.store, {
      limit: query.limit ?? 50,
      ...(query.inbox ? { inbox: query.inbox } : {}),
      ...(query.unread === 'true' ? { unread: true } : {}),
    });
    return c.json({ notifications: items }, 200);
  });

  app.openapi(consoleRoutes.markRead, async (c) => {
    ctx.requireRole(c, [...inboxReaders]);
    const { ids, all, inbox } = c.req.valid('json');
    if (!ids && !all)
      throw new HttpProblem(400, ErrorCode.InputInvalid, 'Say which items to mark read: {"ids": [1, 2]} or {"all": true}.', 'body');
    const marked = await markNotificationsRead(workspace.store, ids ? { ids } : { all: true, ...(inbox ? { inbox } : {}) });
    return c.json({ marked }, 200);
  });

  app.openapi(consoleRoutes.policySource, async (c) => {
    ctx.requireRole(c, [...policyReaders], 'policy');
    // Policies are named, never located: the name is looked up among the folder's policies.
    const { policies } = await readPolicyFiles([workspace.config.policiesDir]);
    const policy = policies.find((candidate) => candidate.name === c.req.param('name'));
    if (!policy) throw notVisible(`policy named '${c.req.param('name').slice(0, 100)}' (GET /v1/policies lists them)`);
    return c.json(
      { policy: { name: policy.name, version: policy.version, hash: policy.hash, file: policy.file, source: policy.source } },
      200,
    );
  });

  app.openapi(consoleRoutes.stats, async (c) => {
    ctx.requireRole(c, [...statsReaders]);
    const query = c.req.valid('query');
    const window = {
      ...(query.since ? { since: new Date(query.since) } : {}),
      ...(query.until ? { until: new Date(query.until) } : {}),
      ...(query.bucket ? { bucket: query.bucket } : {}),
    };
    const statistics = await runStatistics(workspace.store, window);
    const usage = await summarizeUsage(workspace.store, {
      by: ['team', 'feature'],
      since: new Date(statistics.since),
      until: new Date(statistics.until),
    });
    return c.json({ stats: { ...statistics, costByTeamAndFeature: usage.rows, costTotal: usage.total } }, 200);
  });
}

/** An approval with whether this principal may vote on it, and if not, why (separation of duties, roles). */
function inboxView(approval: PendingApproval, principal: TokenPrincipal): InboxApproval {
  // The vote route refuses a run's own principal whatever the requirement says; say so first.
  if (approval.requestedBy === principal.id) {
    return {
      ...approval,
      eligibility: {
        mayVote: false,
        reason: `Separation of duties: ${principal.id} started run ${approval.runId} and cannot decide its held action; another approver must.`,
      },
    };
  }
  const refusal = principal.local ? undefined : voteIneligibility(approval, principal);
  return { ...approval, eligibility: refusal ? { mayVote: false, reason: refusal.message } : { mayVote: true } };
}

/** The pending approvals, re-read when the hub sees an approval or hold event and every poll interval while anyone listens. */
class PendingApprovals {
  readonly #workspace: Workspace;
  readonly #hub: RunHub;
  readonly #pollMs: number;
  readonly #subscribers = new Set<(list: readonly PendingApproval[]) => void>();
  readonly #decisions = new Map<string, { decision: HoldingDecision | null; agent: string | null }>();
  #current: readonly PendingApproval[] | undefined;
  #stopWatching: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #again = false;

  constructor(workspace: Workspace, hub: RunHub, pollMs: number) {
    this.#workspace = workspace;
    this.#hub = hub;
    this.#pollMs = pollMs;
  }

  subscribe(subscriber: (list: readonly PendingApproval[]) => void): () => void {
    this.#subscribers.add(subscriber);
    if (this.#current) subscriber(this.#current);
    if (this.#subscribers.size === 1) this.#start();
    else if (!this.#current) void this.refresh();
    return () => {
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) this.#stop();
    };
  }

  /** Re-reads the list; a refresh asked for while one runs runs once more after it. */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#again = false;
        try {
          const list = await this.#workspace.approvals.list({ status: 'pending' });
          const current: PendingApproval[] = [];
          for (const approval of list) current.push({ ...approval, ...(await this.#holding(approval)) });
          this.#current = current;
          for (const id of this.#decisions.keys()) if (!list.some((approval) => approval.id === id)) this.#decisions.delete(id);
          for (const subscriber of this.#subscribers) subscriber(this.#current);
        } catch {
          // The store is briefly unavailable (or closing): the next poll tries again.
        }
      } while (this.#again && this.#subscribers.size > 0);
    })().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** The decision recorded at the held step (the last require_approval one there) and the run's agent; read once per approval. */
  async #holding(approval: Approval): Promise<{ decision: HoldingDecision | null; agent: string | null }> {
    const known = this.#decisions.get(approval.id);
    if (known) return known;
    const store = this.#workspace.store;
    const run = await findRun(store, approval.runId);
    const rows = await findEventsOfType(store, approval.runId, 'policy.decided');
    let decision: HoldingDecision | null = null;
    for (const row of rows) {
      if (row.payload === null) continue;
      const payload = JSON.parse(row.payload) as { step?: number; decision?: HoldingDecision };
      if (payload.step === approval.step && payload.decision?.authority === 'require_approval') {
        decision = {
          authority: payload.decision.authority,
          ...(payload.decision.reason ? { reason: payload.decision.reason } : {}),
          rules: payload.decision.rules ?? [],
        };
        break;
      }
    }
    const found = { decision, agent: run?.agent ?? null };
    this.#decisions.set(approval.id, found);
    return found;
  }

  #start(): void {
    this.#stopWatching = this.#hub.watch((event) => {
      if (event.type === 'run.held' || event.type.startsWith('approval.')) void this.refresh();
    });
    this.#timer = setInterval(() => void this.refresh(), this.#pollMs);
    this.#timer.unref();
    void this.refresh();
  }

  #stop(): void {
    this.#stopWatching?.();
    clearInterval(this.#timer);
    this.#current = undefined;
  }
}
