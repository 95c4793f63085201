// How the HTTP API answers a problem: a validation or JSON problem 400 (415 for a body not sent as
// JSON), an HttpProblem its status, a UserError the status of its code, anything else 500 with a
// reference to the server's log line; an unknown route 404.
import { randomUUID } from 'node:crypto';
import { AiFactoryError, ErrorCode, UserError } from '@aifactory/core';
import { HTTPException } from 'hono/http-exception';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { TokenPrincipal } from './api-tokens.ts';
import { HttpProblem, validationProblem, type ApiApp } from './routes/context.ts';
import type { ServerLog } from './server-log.ts';

const statusByCode: Record<string, number> = {
  [ErrorCode.InputInvalid]: 400,
  [ErrorCode.PolicyInvalid]: 400,
  [ErrorCode.AgentInvalid]: 400,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.ApprovalInvalid]: 409,
  [ErrorCode.Forbidden]: 403,
};

/** Answers every error and unknown route of `app` as above. */
export function registerErrorHandling(app: ApiApp, log: ServerLog): void {
  app.onError((error, c) => {
    const answer = problemAnswer(log, c.req.method, c.req.path, error);
    return c.json(answer.body, answer.status as 400);
  });

  app.notFound((c) => c.json({ error: { code: ErrorCode.NotFound, message: 'No such route is visible to you.' } }, 404));
}

/** A problem's answer: its status and JSON body (the app's error handler, and the run start's route in front of Hono). */
export function problemAnswer(
  log: ServerLog,
  method: string,
  path: string,
  error: unknown,
): { status: number; body: { error: { code: string; message: string; path?: string } } } {
  if (error instanceof HTTPException && error.status < 500) {
    // From the request validators: a body that is not JSON (400) or not declared JSON (415).
    const message =
      error.status === 400
        ? `The request body is not valid JSON (${error.message}).`
        : error.status === 415
          ? 'Send the request body as application/json.'
          : error.message;
    return {
      status: error.status,
      body: { error: { code: error.status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : ErrorCode.InputInvalid, message } },
    };
  }
  if (error instanceof HttpProblem)
    return {
      status: error.status,
      body: { error: { code: error.code, message: error.message, ...(error.path ? { path: error.path } : {}) } },
    };
  if (error instanceof AiFactoryError && error instanceof UserError) {
    const status = statusByCode[error.code] ?? 400;
    const path = error.location?.path;
    return { status, body: { error: { code: error.code, message: error.message, ...(path ? { path: String(path) } : {}) } } };
  }
  return { status: 500, body: unexpectedFailure(log, method, path, error) };
}

/** A new app whose requests that fail their route's schema are answered like every other problem: 400 naming each field. */
export function createApiApp(): ApiApp {
  const validationTargets: Record<string, string> = { json: 'body', query: 'query', param: 'path', header: 'header' };
  return new OpenAPIHono<{ Variables: { principal: TokenPrincipal; runId: string; requestId: string } }>({
    defaultHook: (result) => {
      if (!result.success) throw validationProblem(result.error, validationTargets[result.target] ?? result.target);
    },
  });
}

/** The answer (500) to an error no route answered, logged with a reference the answer names. */
export function unexpectedFailure(
  log: ServerLog,
  method: string,
  path: string,
  error: unknown,
): { error: { code: string; message: string } } {
  const reference = randomUUID().slice(0, 8);
  log({ event: 'request.failed', reference, method, path, error: error instanceof Error ? error.message : String(error) });
  return {
    error: { code: ErrorCode.Internal, message: `The server failed to handle this request (reference ${reference}); see its log.` },
  };
}
