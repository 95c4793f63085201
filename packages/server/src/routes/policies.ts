// Policies: list the server's policy folder, validate a document, and the impact of a change on
// recorded runs.
import { compilePolicies, parsePolicy, readPolicyFiles } from '@aifactory/control';
import { UserError } from '@aifactory/core';
import { policyImpact } from '@aifactory/execution';
import { impactRequest, validatePolicyRequest } from '../api-schemas.ts';
import type { ApiApp, RouteContext } from './context.ts';

export function registerPolicyRoutes(app: ApiApp, ctx: RouteContext): void {
  const { workspace, store } = ctx;

  app.post('/v1/policies/impact', async (c) => {
    ctx.requireRole(c, ['risk_officer', 'admin']);
    const request = await ctx.readBody(c, impactRequest);
    const policySet = compilePolicies(request.policies.map((source, index) => parsePolicy(source, `policies[${index}]`)));
    const report = await policyImpact(store, policySet, { ...(request.agent ? { agent: request.agent } : {}), ...(request.since ? { since: new Date(request.since) } : {}) });
    return c.json({ impact: report });
  });

  app.get('/v1/policies', async (c) => {
    ctx.requireRole(c, ['risk_officer', 'auditor', 'admin']);
    const { policies, problems } = await readPolicyFiles([workspace.config.policiesDir]);
    return c.json({
      policies: policies.map((policy) => ({ name: policy.name, version: policy.version, owner: policy.owner ?? null, file: policy.file, hash: policy.hash, rules: policy.rules.length })),
      problems,
    });
  });

  app.post('/v1/policies/validate', async (c) => {
    ctx.requireRole(c, ['risk_officer', 'admin']);
    const request = await ctx.readBody(c, validatePolicyRequest);
    try {
      const policy = parsePolicy(request.source, request.file ?? 'policy.yaml');
      return c.json({ ok: true, policy: { name: policy.name, version: policy.version, hash: policy.hash, rules: policy.rules.length }, problems: [] });
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      const details = error.details as { problems?: unknown[] } | undefined;
      return c.json({ ok: false, problems: details?.problems ?? [{ message: error.message, location: error.location ?? {} }] });
    }
  });
}
