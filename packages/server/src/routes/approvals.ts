// Approvals: list, read, and vote (approve or reject); a decided vote resumes the run.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Approval } from '@aifactory/execution';
import { voteAndResume } from '@aifactory/workspace';
import type { Context } from 'hono';
import type { TokenPrincipal } from '../api-tokens.ts';
import { listApprovalsQuery, voteRequest } from '../api-schemas.ts';
import type { RunChannel } from '../run-hub.ts';
import { approvalReaders, HttpProblem, notVisible, type ApiApp, type RouteContext } from './context.ts';

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

  app.get('/v1/approvals', async (c) => {
    const principal = ctx.requireRole(c, ['operator', ...approvalReaders]);
    const query = ctx.readQuery(c, listApprovalsQuery);
    const list = await workspace.approvals.list({ ...(query.status ? { status: query.status } : {}), ...(query.runId ? { runId: query.runId } : {}) });
    const visible = ctx.hasRole(principal, approvalReaders) ? list : list.filter((approval) => approval.requestedBy === principal.id);
    return c.json({ approvals: visible });
  });

  app.get('/v1/approvals/:id', async (c) => {
    const principal = ctx.requireRole(c, ['operator', ...approvalReaders], 'approval');
    return c.json({ approval: await visibleApproval(principal, c.req.param('id')) });
  });

  const vote = (kind: 'approve' | 'reject') => async (c: Context) => {
    const principal = ctx.requireRole(c, ['approver', 'admin'], 'approval');
    const approval = await visibleApproval(principal, c.req.param('id') ?? '');
    const request = await ctx.readBody(c, voteRequest);
    const decision = { principal: principal.id, token: principal.tokenId, route: `/v1/approvals/:id/${kind}`, approval_id: approval.id };
    // Separation of duties, enforced here too so the refusal is recorded: the run's own
    // principal never decides its held action, whatever roles the token carries.
    if (approval.requestedBy === principal.id) {
      ctx.authDecided(principal.id, 'denied', { reason: 'separation_of_duties', ...decision });
      await ctx.recordAgainstHeldRun(approval.runId, { ...decision, outcome: 'denied', reason: 'separation_of_duties' });
      throw new HttpProblem(403, ErrorCode.Forbidden, `Separation of duties: ${principal.id} started run ${approval.runId} and cannot decide its held action.`);
    }
    // A decided run resumes in the background; its events go to the run's channel, and so do the
    // events of a run that waited on it through a hand-off and goes on once it ends. While the
    // server shuts down the approval stays decided: `factory runs resume` or a restart applies it.
    const channels = new Set<RunChannel>();
    let outcome;
    try {
      outcome = await voteAndResume({ approvals: workspace.approvals, runtime: ctx.runs }, {
        approvalId: approval.id,
        ballot: { approver: { id: principal.id, roles: principal.roles }, vote: kind, ...(request.comment ? { comment: request.comment } : {}) },
        resume: !closing.aborted,
        onVoted: (result) => {
          ctx.authDecided(principal.id, 'allowed', { reason: 'approver', ...decision });
          if (result.kind === 'counted') return;
          metrics?.timeToApprove.observe({ outcome: result.kind }, Math.max(0, (Date.now() - result.approval.requestedAt.getTime()) / 1000));
          if (!closing.aborted) channels.add(hub.open(approval.runId));
        },
        onEvent: (event) => {
          const channel = hub.open(event.runId);
          channels.add(channel);
          channel.push(event);
        },
      });
    } catch (error) {
      if (error instanceof UserError && error.code === ErrorCode.Forbidden) {
        ctx.authDecided(principal.id, 'denied', { reason: 'approver_rules', ...decision });
        await ctx.recordAgainstHeldRun(approval.runId, { ...decision, outcome: 'denied', reason: 'approver_rules', message: error.message });
      }
      throw error;
    }
    const result = outcome.vote;
    if (outcome.kind === 'decided' && outcome.resumed) {
      const settle = () => {
        for (const channel of channels) hub.settle(channel);
      };
      ctx.track(outcome.resumed).then(settle, (error: Error) => {
        log({ event: 'run.resume_failed', runId: approval.runId, approvalId: approval.id, error: error.message });
        settle();
      });
    }
    return c.json({ result: result.kind, ...(result.kind === 'counted' ? { remaining: result.remaining } : {}), approval: result.approval, resumed: outcome.kind === 'decided' && outcome.resumed !== undefined });
  };
  app.post('/v1/approvals/:id/approve', vote('approve'));
  app.post('/v1/approvals/:id/reject', vote('reject'));
}
