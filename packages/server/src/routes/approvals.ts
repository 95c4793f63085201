// Approvals: list, read, and vote (approve or reject); a decided vote resumes the run.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Approval } from '@aifactory/execution';
import { voteAndResume } from '@aifactory/workspace';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { TokenPrincipal } from '../api-tokens.ts';
import {
  approvalListResponse,
  approvalResponse,
  authenticatedResponses,
  bearer,
  bodyResponses,
  conflictResponse,
  forbiddenResponse,
  idParam,
  json,
  listApprovalsQuery,
  queryResponses,
  voteRequest,
  voteResponse,
} from '../api-schemas.ts';
import type { RunChannel } from '../run-hub.ts';
import { approvalReaders, HttpProblem, notVisible, type ApiApp, type RouteContext } from './context.ts';

const tags = ['approvals'];
const voteRoute = (kind: 'approve' | 'reject') =>
  createRoute({
    method: 'post',
    path: `/v1/approvals/{id}/${kind}`,
    operationId: kind === 'approve' ? 'approveApproval' : 'rejectApproval',
    tags,
    security: bearer,
    'x-roles': ['approver', 'admin'],
    summary: kind === 'approve' ? 'Vote yes on a held action' : 'Vote no on a held action',
    description:
      kind === 'approve' ? 'When enough votes are in, the run resumes on this server.' : 'The run resumes without the held action.',
    request: { params: idParam, body: { required: false, content: { 'application/json': { schema: voteRequest } } } },
    responses: {
      200: json(voteResponse, 'The vote was counted, or decided the approval.'),
      ...authenticatedResponses,
      ...bodyResponses,
      ...forbiddenResponse('Separation of duties (the run\u2019s own principal), or the approver rules do not admit this approver.'),
      ...conflictResponse,
    },
  });

/** The routes of this module, as the OpenAPI document describes them. */
export const approvalRoutes = {
  list: createRoute({
    method: 'get',
    path: '/v1/approvals',
    operationId: 'listApprovals',
    tags,
    security: bearer,
    'x-roles': ['operator', 'approver', 'auditor', 'admin'],
    summary: 'List approvals',
    description: 'Operators see those of their own runs.',
    request: { query: listApprovalsQuery },
    responses: { 200: json(approvalListResponse, 'The approvals.'), ...authenticatedResponses, ...queryResponses },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/approvals/{id}',
    operationId: 'getApproval',
    tags,
    security: bearer,
    'x-roles': ['operator', 'approver', 'auditor', 'admin'],
    summary: 'One approval with its votes',
    request: { params: idParam },
    responses: { 200: json(approvalResponse, 'The approval.'), ...authenticatedResponses },
  }),
  approve: voteRoute('approve'),
  reject: voteRoute('reject'),
};

export function registerApprovalRoutes(app: ApiApp, ctx: RouteContext): void {
  const { workspace, hub, closing, metrics, log } = ctx;

  const visibleApproval = async (principal: TokenPrincipal, approvalId: string): Promise<Approval> => {
    let approval: Approval | undefined;
    try {
      approval = await workspace.approvals.get(approvalId);
    } catch (error) {
      if (!(error instanceof UserError && error.code === ErrorCode.NotFound)) throw error;
    }
    const visible = approval && (ctx.hasRole(principal, approvalReaders) || approval.requestedBy === principal.id);
    if (!approval || !visible) {
      ctx.authDecided(principal.id, 'denied', { reason: approval ? 'not_owner' : 'absent', token: principal.tokenId, approvalId });
      throw notVisible(`approval '${approvalId}'`);
    }
    return approval;
  };

  app.openapi(approvalRoutes.list, async (c) => {
    const principal = ctx.requireRole(c, ['operator', ...approvalReaders]);
    const query = c.req.valid('query');
    const list = await workspace.approvals.list({
      ...(query.status ? { status: query.status } : {}),
      ...(query.runId ? { runId: query.runId } : {}),
    });
    const visible = ctx.hasRole(principal, approvalReaders) ? list : list.filter((approval) => approval.requestedBy === principal.id);
    return c.json({ approvals: visible }, 200);
  });

  app.openapi(approvalRoutes.get, async (c) => {
    const principal = ctx.requireRole(c, ['operator', ...approvalReaders], 'approval');
    return c.json({ approval: await visibleApproval(principal, c.req.param('id')) }, 200);
  });

  const vote = async (c: Context, kind: 'approve' | 'reject', approvalId: string, request: { comment?: string | undefined }) => {
    const principal = ctx.requireRole(c, ['approver', 'admin'], 'approval');
    const approval = await visibleApproval(principal, approvalId);
    const decision = { principal: principal.id, token: principal.tokenId, route: `/v1/approvals/:id/${kind}`, approval_id: approval.id };
    // Separation of duties, enforced here too so the refusal is recorded: the run's own
    // principal never decides its held action, whatever roles the token carries.
    if (approval.requestedBy === principal.id) {
      ctx.authDecided(principal.id, 'denied', { reason: 'separation_of_duties', ...decision });
      await ctx.recordAgainstHeldRun(approval.runId, { ...decision, outcome: 'denied', reason: 'separation_of_duties' });
      throw new HttpProblem(
        403,
        ErrorCode.Forbidden,
        `Separation of duties: ${principal.id} started run ${approval.runId} and cannot decide its held action.`,
      );
    }
    // A decided run resumes in the background; its events go to the run's channel, and so do the
    // events of a run that waited on it through a hand-off and goes on once it ends. While the
    // server shuts down the approval stays decided: `factory runs resume` or a restart applies it.
    const channels = new Set<RunChannel>();
    let outcome;
    try {
      outcome = await voteAndResume(
        { approvals: workspace.approvals, runtime: ctx.runs, store: workspace.store, recorder: workspace.recorder },
        {
          approvalId: approval.id,
          ballot: {
            approver: { id: principal.id, roles: principal.roles },
            vote: kind,
            ...(request.comment ? { comment: request.comment } : {}),
          },
          resume: !closing.aborted,
          onVoted: (result) => {
            ctx.authDecided(principal.id, 'allowed', { reason: 'approver', ...decision });
            if (result.kind === 'counted') return;
            metrics?.timeToApprove.observe(
              { outcome: result.kind },
              Math.max(0, (Date.now() - result.approval.requestedAt.getTime()) / 1000),
            );
            if (!closing.aborted) channels.add(hub.open(approval.runId));
          },
          onEvent: (event) => {
            const channel = hub.open(event.runId);
            channels.add(channel);
            channel.push(event);
          },
        },
      );
    } catch (error) {
      if (error instanceof UserError && error.code === ErrorCode.Forbidden) {
        ctx.authDecided(principal.id, 'denied', { reason: 'approver_rules', ...decision });
        await ctx.recordAgainstHeldRun(approval.runId, {
          ...decision,
          outcome: 'denied',
          reason: 'approver_rules',
          message: error.message,
        });
      }
      throw error;
    }
    const result = outcome.vote;
    const settle = () => {
      for (const channel of channels) hub.settle(channel);
    };
    if (outcome.kind === 'decided' && outcome.resumed) {
      ctx.track(outcome.resumed).then(settle, (error: Error) => {
        log({ event: 'run.resume_failed', runId: approval.runId, approvalId: approval.id, error: error.message });
        settle();
      });
    }
    // A held prompt promotion completes once decided: its label moves (or the refusal is recorded).
    if (outcome.kind === 'decided' && outcome.promotion) {
      ctx.track(outcome.promotion).then(settle, (error: Error) => {
        log({ event: 'prompt.promotion_failed', record: approval.runId, approvalId: approval.id, error: error.message });
        settle();
      });
    }
    return {
      result: result.kind,
      ...(result.kind === 'counted' ? { remaining: result.remaining } : {}),
      approval: result.approval,
      resumed: outcome.kind === 'decided' && outcome.resumed !== undefined,
    };
  };
  app.openapi(approvalRoutes.approve, async (c) => c.json(await vote(c, 'approve', c.req.valid('param').id, c.req.valid('json')), 200));
  app.openapi(approvalRoutes.reject, async (c) => c.json(await vote(c, 'reject', c.req.valid('param').id, c.req.valid('json')), 200));
}
