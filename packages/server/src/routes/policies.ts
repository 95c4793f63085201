// Policies: list the server's policy folder, validate a document, and the impact of a change on
// recorded runs.
import { compilePolicies, parsePolicy, readPolicyFiles } from '@aifactory/control';
import { UserError } from '@aifactory/core';
import { policyImpact } from '@aifactory/execution';
import { createRoute } from '@hono/zod-openapi';
import { authenticatedResponses, bearer, bodyResponses, impactRequest, impactResponse, json, policyListResponse, policyValidationResponse, validatePolicyRequest } from '../api-schemas.ts';
import type { ApiApp, RouteContext } from './context.ts';

const tags = ['policies'];

/** The routes of this module, as the OpenAPI document describes them. */
export const policyRoutes = {
  impact: createRoute({
    method: 'post', path: '/v1/policies/impact', operationId: 'policyImpact', tags, security: bearer, 'x-roles': ['risk_officer', 'admin'],
    summary: 'Impact of a policy change',
    description: 'Authority transitions per rule if recorded runs were decided under these policies.',
    request: { body: { required: true, content: { 'application/json': { schema: impactRequest } } } },
    responses: { 200: json(impactResponse, 'The impact report.'), ...authenticatedResponses, ...bodyResponses },
  }),
  list: createRoute({
    method: 'get', path: '/v1/policies', operationId: 'listPolicies', tags, security: bearer, 'x-roles': ['risk_officer', 'auditor', 'admin'],
    summary: 'Policies in the server\u2019s policy folder',
    responses: { 200: json(policyListResponse, 'The policies and the problems of those that do not load.'), ...authenticatedResponses },
  }),
  validate: createRoute({
    method: 'post', path: '/v1/policies/validate', operationId: 'validatePolicy', tags, security: bearer, 'x-roles': ['risk_officer', 'admin'],
    summary: 'Validate a policy document', description: 'Problems name line and column.',
    request: { body: { required: true, content: { 'application/json': { schema: validatePolicyRequest } } } },
    responses: { 200: json(policyValidationResponse, 'ok, or the problems.'), ...authenticatedResponses, ...bodyResponses },
  }),
};

export function registerPolicyRoutes(app: ApiApp, ctx: RouteContext): void {
  const { workspace, store } = ctx;

  app.openapi(policyRoutes.impact, async (c) => {
    ctx.requireRole(c, ['risk_officer', 'admin']);
    const request = c.req.valid('json');
    const policySet = compilePolicies(request.policies.map((source, index) => parsePolicy(source, `policies[${index}]`)));
    const report = await policyImpact(store, policySet, { ...(request.agent ? { agent: request.agent } : {}), ...(request.since ? { since: new Date(request.since) } : {}) });
    return c.json({ impact: report }, 200);
  });

  app.openapi(policyRoutes.list, async (c) => {
    ctx.requireRole(c, ['risk_officer', 'auditor', 'admin']);
    const { policies, problems } = await readPolicyFiles([workspace.config.policiesDir]);
    return c.json({
      policies: policies.map((policy) => ({ name: policy.name, version: policy.version, owner: policy.owner ?? null, file: policy.file, hash: policy.hash, rules: policy.rules.length })),
      problems,
    }, 200);
  });

  app.openapi(policyRoutes.validate, async (c) => {
    ctx.requireRole(c, ['risk_officer', 'admin']);
    const request = c.req.valid('json');
    try {
      const policy = parsePolicy(request.source, request.file ?? 'policy.yaml');
      return c.json({ ok: true, policy: { name: policy.name, version: policy.version, hash: policy.hash, rules: policy.rules.length }, problems: [] }, 200);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      const details = error.details as { problems?: unknown[] } | undefined;
      return c.json({ ok: false, problems: details?.problems ?? [{ message: error.message, location: error.location ?? {} }] }, 200);
    }
  });
}
