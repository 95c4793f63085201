// Policies: list the server's policy folder, validate a document, the impact of a change on
// recorded runs, the policy format's JSON Schema, and a policy's test cases run against an edit.
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compilePolicies, parsePolicy, policyJsonSchema, readPolicyFiles, runPolicyTests } from '@aifactory/control';
import { formatLocation, UserError, type SourceLocation } from '@aifactory/core';
import { policyImpact } from '@aifactory/execution';
import { createRoute, z } from '@hono/zod-openapi';
import {
  authenticatedResponses,
  bearer,
  bodyResponses,
  impactRequest,
  impactResponse,
  json,
  policyListResponse,
  policyTestResponse,
  policyValidationResponse,
  testPolicyRequest,
  validatePolicyRequest,
} from '../api-schemas.ts';
import { notVisible, type ApiApp, type RouteContext } from './context.ts';

const tags = ['policies'];

/** The routes of this module, as the OpenAPI document describes them. */
export const policyRoutes = {
  impact: createRoute({
    method: 'post',
    path: '/v1/policies/impact',
    operationId: 'policyImpact',
    tags,
    security: bearer,
    'x-roles': ['risk_officer', 'admin'],
    summary: 'Impact of a policy change',
    description: 'Authority transitions per rule if recorded runs were decided under these policies.',
    request: { body: { required: true, content: { 'application/json': { schema: impactRequest } } } },
    responses: { 200: json(impactResponse, 'The impact report.'), ...authenticatedResponses, ...bodyResponses },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/policies',
    operationId: 'listPolicies',
    tags,
    security: bearer,
    'x-roles': ['risk_officer', 'auditor', 'admin'],
    summary: 'Policies in the server\u2019s policy folder',
    responses: { 200: json(policyListResponse, 'The policies and the problems of those that do not load.'), ...authenticatedResponses },
  }),
  validate: createRoute({
    method: 'post',
    path: '/v1/policies/validate',
    operationId: 'validatePolicy',
    tags,
    security: bearer,
    'x-roles': ['risk_officer', 'admin'],
    summary: 'Validate a policy document',
    description: 'Problems name line and column.',
    request: { body: { required: true, content: { 'application/json': { schema: validatePolicyRequest } } } },
    responses: { 200: json(policyValidationResponse, 'ok, or the problems.'), ...authenticatedResponses, ...bodyResponses },
  }),
  schema: createRoute({
    method: 'get',
    path: '/v1/policies/schema',
    operationId: 'getPolicySchema',
    tags,
    security: bearer,
    'x-roles': ['risk_officer', 'auditor', 'admin'],
    summary: 'The JSON Schema of the policy format',
    description: 'As `factory policy schema` prints it; editors (the console\u2019s among them) complete policy YAML from it.',
    responses: {
      200: json(
        z
          .record(z.string(), z.unknown())
          .openapi('PolicyJsonSchema', { description: 'A JSON Schema (draft-07) document: the policy format.' }),
        'The JSON Schema.',
      ),
      ...authenticatedResponses,
    },
  }),
  test: createRoute({
    method: 'post',
    path: '/v1/policies/test',
    operationId: 'testPolicy',
    tags,
    security: bearer,
    'x-roles': ['risk_officer', 'admin'],
    summary: 'Run a policy\u2019s test cases, optionally against an edited source',
    description:
      'Runs the cases in tests/<authority>.yaml beside the named policy, as `factory policy test` does; with `source`, against that text instead of the file. Nothing is saved.',
    request: { body: { required: true, content: { 'application/json': { schema: testPolicyRequest } } } },
    responses: {
      200: json(policyTestResponse, 'The results, or null and why there are none.'),
      ...authenticatedResponses,
      ...bodyResponses,
    },
  }),
};

export function registerPolicyRoutes(app: ApiApp, ctx: RouteContext): void {
  const { workspace, store } = ctx;

  app.openapi(policyRoutes.impact, async (c) => {
    ctx.requireRole(c, ['risk_officer', 'admin']);
    const request = c.req.valid('json');
    const policySet = compilePolicies(request.policies.map((source, index) => parsePolicy(source, `policies[${index}]`)));
    const report = await policyImpact(store, policySet, {
      ...(request.agent ? { agent: request.agent } : {}),
      ...(request.since ? { since: new Date(request.since) } : {}),
    });
    return c.json({ impact: report }, 200);
  });

  app.openapi(policyRoutes.list, async (c) => {
    ctx.requireRole(c, ['risk_officer', 'auditor', 'admin']);
    const { policies, problems } = await readPolicyFiles([workspace.config.policiesDir]);
    return c.json(
      {
        policies: policies.map((policy) => ({
          name: policy.name,
          version: policy.version,
          owner: policy.owner ?? null,
          file: policy.file,
          hash: policy.hash,
          rules: policy.rules.length,
        })),
        problems: renderedProblems(problems),
      },
      200,
    );
  });

  app.openapi(policyRoutes.schema, (c) => {
    ctx.requireRole(c, ['risk_officer', 'auditor', 'admin']);
    return c.json(policyJsonSchema() as Record<string, unknown>, 200);
  });

  app.openapi(policyRoutes.test, async (c) => {
    ctx.requireRole(c, ['risk_officer', 'admin']);
    const request = c.req.valid('json');
    // Policies are named, never located: the name is looked up among the folder's policies.
    const { policies } = await readPolicyFiles([workspace.config.policiesDir]);
    const policy = policies.find((candidate) => candidate.name === request.name);
    if (!policy) throw notVisible(`policy named '${request.name.slice(0, 100)}' (GET /v1/policies lists them)`);
    const folder = path.dirname(policy.file);
    if (!existsSync(path.join(folder, 'tests'))) {
      return c.json(
        {
          report: null,
          message: `Policy '${policy.name}' has no test cases: put them beside it in tests/<expected authority>.yaml (factory policy test runs them).`,
        },
        200,
      );
    }
    // The cases run against a copy of the policy's folder with the edited text in place of the
    // file, so nothing in the server's folder changes; paths are answered relative to the folder.
    const scratch = await mkdtemp(path.join(tmpdir(), 'aifactory-policy-test-'));
    try {
      await cp(folder, scratch, { recursive: true });
      if (request.source !== undefined) await writeFile(path.join(scratch, path.relative(folder, policy.file)), request.source);
      const report = await runPolicyTests(scratch);
      const results = report.suites.flatMap((suite) => suite.results);
      return c.json(
        {
          report: {
            total: report.total,
            passed: report.passed,
            failed: report.failed,
            results: results.map((result) => ({
              name: result.name,
              file: path.relative(scratch, result.file),
              line: result.line,
              expected: result.expected,
              actual: result.actual,
              passed: result.passed,
              failures: result.failures,
              rules: result.decision.rules.map((rule) => `${rule.policy}/${rule.ruleId}`),
            })),
          },
        },
        200,
      );
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      // Problems name the scratch copy's files: answer them relative to the policy's folder.
      const relative = <T>(value: T): T =>
        JSON.parse(
          JSON.stringify(value ?? null)
            .split(`${scratch}${path.sep}`)
            .join('')
            .split(scratch)
            .join('.'),
        ) as T;
      throw new UserError(error.code, relative(error.message), {
        ...(error.location ? { location: relative(error.location) } : {}),
        ...(error.details !== undefined ? { details: relative(error.details) } : {}),
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  app.openapi(policyRoutes.validate, async (c) => {
    ctx.requireRole(c, ['risk_officer', 'admin']);
    const request = c.req.valid('json');
    try {
      const policy = parsePolicy(request.source, request.file ?? 'policy.yaml');
      return c.json(
        { ok: true, policy: { name: policy.name, version: policy.version, hash: policy.hash, rules: policy.rules.length }, problems: [] },
        200,
      );
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      const details = error.details as { problems?: LocatedProblem[] } | undefined;
      return c.json(
        { ok: false, problems: renderedProblems(details?.problems ?? [{ message: error.message, location: error.location ?? {} }]) },
        200,
      );
    }
  });
}

interface LocatedProblem {
  message: string;
  location: SourceLocation;
}

/**
 * Problems as the API answers them: each with `text`, its one line as the CLI prints it, so that
 * the console shows located problems in the one vocabulary (core/src/errors.ts:formatLocation)
 * instead of rendering locations itself.
 */
function renderedProblems(problems: readonly LocatedProblem[]): Array<LocatedProblem & { text: string }> {
  return problems.map(({ message, location }) => ({ message, location, text: `${formatLocation(location)}${message}` }));
}
