// The middleware every request passes before authentication: the host guard (DNS-rebinding
// protection), CORS, the request id and its log line and metrics, the body limit and hygiene.
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@aifactory/core';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { plainHeadersOf } from './answer-headers.ts';
import { hostGuard } from './host-guard.ts';
import type { HttpAppOptions } from './http-app.ts';
import { requestHygiene } from './request-hygiene.ts';
import type { ApiApp, RouteContext } from './routes/context.ts';
import { requestIdFrom, traceIdsOf, type ServerLogWithOwn } from './server-log.ts';

/** Mounts the request middleware on `app`. */
export function registerRequestMiddleware(
  app: ApiApp,
  options: HttpAppOptions,
  shared: { log: ServerLogWithOwn; metrics: RouteContext['metrics']; authDecided: RouteContext['authDecided'] },
): void {
  const { log, metrics, authDecided } = shared;
  if (options.allowedHosts) {
    app.use(
      '*',
      hostGuard({ allowedHosts: options.allowedHosts, allowedOrigins: options.corsOrigins ?? [] }, (refusal) =>
        authDecided('anonymous', 'denied', { reason: `bad_${refusal.reason}` }),
      ),
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
    // An answer built with a plain header record (withPlainHeaders) that holds the id is read from
    // that record; any other answer's headers are read, and the id set again only where the
    // answer lost it (a route's own Response, an error's), on that Response's own headers when
    // they take it: c.header on a finished response copies the Response, its body turned into a
    // web stream, which @hono/node-server then reads chunk by chunk instead of writing the string
    // it was (the gateway answered every request that way).
    const plain = plainHeadersOf(c.res);
    let traceResponse: string | undefined;
    if (plain !== undefined && plain['x-request-id'] === requestId) traceResponse = plain.traceresponse;
    else {
      if (c.res.headers.get('x-request-id') !== requestId) {
        try {
          c.res.headers.set('x-request-id', requestId);
        } catch {
          // Immutable headers (a fetch() Response passed on): copy it.
          c.header('x-request-id', requestId);
        }
      }
      traceResponse = c.res.headers.get('traceresponse') ?? undefined;
    }
    const route = c.req.routePath || 'unmatched';
    const method = c.req.method;
    const status = c.res.status;
    metrics?.httpRequests.inc({ method, route, status: String(status) });
    // The request's trace, else the trace a route named in traceresponse (a run started without a traceparent has its own).
    const traced = traceIdsOf(c.req.header('traceparent')) ?? traceIdsOf(traceResponse);
    const principal = c.get('principal');
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
        path: c.req.path,
        principal: principal?.id,
        // The token's id (never the token) and the run a start began: the start's allowed decision is this line.
        token: principal?.tokenId,
        run_id: c.get('runId') as string | undefined,
      },
      {
        ...(fresh ? { request_id: requestId } : {}),
        route,
        status,
        duration_ms: Math.round((performance.now() - started) * 10) / 10,
      },
    );
  });

  // Bodies past the limit are refused before they are read in full.
  const maxSize = options.bodyLimitBytes ?? 1024 * 1024;
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
