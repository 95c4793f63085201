// The middleware every request passes before authentication: the host guard (DNS-rebinding
// protection), CORS, the request id and its log line and metrics, the body limit and hygiene.
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@aifactory/core';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { plainHeadersOf } from './answer-headers.ts';
import { hostGuard, type HostCheck } from './host-guard.ts';
import type { TokenPrincipal } from './api-tokens.ts';
import type { HttpAppOptions } from './http-app.ts';
import { requestHygiene } from './request-hygiene.ts';
import type { ApiApp, RouteContext } from './routes/context.ts';
import { requestIdFrom, traceIdsOf, type ServerLogWithOwn } from './server-log.ts';

/** Mounts the request middleware on `app`. */
export function registerRequestMiddleware(
  app: ApiApp,
  options: HttpAppOptions,
  shared: {
    log: ServerLogWithOwn;
    metrics: RouteContext['metrics'];
    authDecided: RouteContext['authDecided'];
    /** The host guard's check (options.allowedHosts), shared with the gateway's route in front of Hono. */
    hostCheck: HostCheck | undefined;
  },
): void {
  const { log, metrics, authDecided } = shared;
  if (shared.hostCheck) {
    app.use(
      '*',
      hostGuard(shared.hostCheck, (refusal) => authDecided('anonymous', 'denied', { reason: `bad_${refusal.reason}` })),
    );
  }

  if (options.corsOrigins && options.corsOrigins.length > 0) {
    app.use(
      '*',
      cors({
        origin: options.corsOrigins,
        allowHeaders: ['authorization', 'content-type', 'last-event-id'],
        allowMethods: ['GET', 'POST'],
        maxAge: 600,
      }),
    );
  }
  // Every request: a request id (the client's X-Request-Id when it is a plain token) on the
  // response and in one log line with its outcome and, when it is part of an OpenTelemetry trace
  // (traceparent, or an active span), its trace_id and span_id; and the request counted in the metrics.
  app.use('*', async (c, next) => {
    const started = performance.now();
    const supplied = c.req.header('x-request-id');
    const requestId = requestIdFrom(supplied, randomUUID);
    c.header('x-request-id', requestId);
    // For a route that builds its own answer (the gateway): the id to put among its headers.
    c.set('requestId', requestId);
    await next();
    // Immutable headers (a fetch() Response passed on): Hono copies the answer to set the id.
    const traceResponse = requestIdOnAnswer(c.res, requestId, () => c.header('x-request-id', requestId));
    requestFinished(log, metrics, {
      started,
      supplied,
      requestId,
      method: c.req.method,
      path: c.req.path,
      route: c.req.routePath || 'unmatched',
      status: c.res.status,
      principal: c.get('principal'),
      runId: c.get('runId') as string | undefined,
      traceparent: c.req.header('traceparent'),
      traceResponse,
    });
  });

  // Bodies past the limit are refused before they are read in full.
  const maxSize = maxBodyBytes(options);
  const limited = bodyLimit({
    maxSize,
    // The rest of the body is never read, so the connection cannot be reused: say so.
    onError: (c) =>
      c.json({ error: { code: ErrorCode.InputInvalid, message: `The request body is larger than ${maxSize} bytes.` } }, 413, {
        Connection: 'close',
      }),
  });
  app.use('*', (c, next) => {
    // A body whose length is declared is judged by its Content-Length (Node's parser holds the
    // body to it) and read later by the route as plain bytes: hono's bodyLimit first asks for
    // `c.req.raw.body`, which makes @hono/node-server wrap every request body in a web
    // ReadableStream, a cost each POST paid for nothing. Streamed (chunked) bodies are counted by bodyLimit.
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && /^\d+$/.test(length) && c.req.header('transfer-encoding') === undefined)
      return Number(length) > maxSize ? limited(c, next) : next();
    return limited(c, next);
  });
  app.use('*', requestHygiene());
}

/**
 * Whether a request is one a route in front of Hono (the gateway's, the streaming start's) may
 * answer, as far as the middleware is concerned: a body of a declared length within the limit, no
 * Transfer-Encoding, and a Host and Origin the host check allows. Anything else goes to Hono,
 * whose middleware counts a streamed body, and refuses, counts and logs a foreign Host, as for any
 * route.
 */
export function middlewareWouldPass(request: Request, options: { maxBodyBytes: number; hostCheck: HostCheck | undefined }): boolean {
  const headers = request.headers;
  const length = headers.get('content-length');
  if (length === null || !/^\d+$/.test(length) || headers.get('transfer-encoding') !== null || Number(length) > options.maxBodyBytes)
    return false;
  return (
    !options.hostCheck ||
    options.hostCheck.decide(headers.get('host') ?? new URL(request.url).host, headers.get('origin') ?? undefined).kind === 'allowed'
  );
}

/** The largest request body the server takes (bytes, default 1 MiB). */
export function maxBodyBytes(options: Pick<HttpAppOptions, 'bodyLimitBytes'>): number {
  return options.bodyLimitBytes ?? 1024 * 1024;
}

/** One answered request, as its log line and metrics take it. */
export interface FinishedRequest {
  /** performance.now() when it arrived. */
  started: number;
  /** The caller's X-Request-Id. */
  supplied: string | undefined;
  requestId: string;
  method: string;
  path: string;
  /** The route template (or `unmatched`). */
  route: string;
  status: number;
  principal: TokenPrincipal | undefined;
  /** The run a start began: an id the server made, written unredacted (never one a caller sent). */
  runId: string | undefined;
  traceparent: string | undefined;
  /** The traceresponse header of the answer, if any. */
  traceResponse: string | undefined;
}

/**
 * Puts the request id on an answer that lacks it and returns the answer's traceresponse. An answer
 * built with a plain header record (withPlainHeaders) that holds the id is read from that record;
 * any other answer's headers are read, and the id set again only where the answer lost it (a
 * route's own Response, an error's), on that Response's own headers when they take it, else by
 * `copy` (re-setting it on a finished response copies the Response, its body turned into a web
 * stream, which @hono/node-server then reads chunk by chunk instead of writing the string it was).
 */
export function requestIdOnAnswer(response: Response, requestId: string, copy: () => void): string | undefined {
  const plain = plainHeadersOf(response);
  if (plain !== undefined && plain['x-request-id'] === requestId) return plain.traceresponse;
  if (response.headers.get('x-request-id') !== requestId) {
    try {
      response.headers.set('x-request-id', requestId);
    } catch {
      copy();
    }
  }
  return response.headers.get('traceresponse') ?? undefined;
}

/** Counts a request in the metrics and writes its log line (the middleware's, and the gateway route's in front of Hono). */
export function requestFinished(log: ServerLogWithOwn, metrics: RouteContext['metrics'], request: FinishedRequest): void {
  const { requestId, supplied, principal, method, route, status } = request;
  metrics?.httpRequests.inc({ method, route, status: String(status) });
  // The request's trace, else the trace a route named in traceresponse (a run started without a traceparent has its own).
  const traced = traceIdsOf(request.traceparent) ?? traceIdsOf(request.traceResponse);
  // What came from the caller is redacted (its request id, path, principal, token id, run id);
  // what the server made is not: a fresh request id (requestIdFrom returned no caller's value),
  // the route template, numbers.
  const fresh = requestId !== supplied;
  log(
    {
      event: 'http.request',
      ...(fresh ? {} : { request_id: requestId }),
      ...traced,
      method,
      path: request.path,
      principal: principal?.id,
      // The token's id (never the token): the start's allowed decision is this line.
      token: principal?.tokenId,
    },
    {
      ...(fresh ? { request_id: requestId } : {}),
      // The run a start began: its id is the server's own (a start's body cannot name one), and a
      // fresh id every time, which the redactor's memory of clean strings never spares it.
      run_id: request.runId,
      route,
      status,
      duration_ms: Math.round((performance.now() - request.started) * 10) / 10,
    },
  );
}
