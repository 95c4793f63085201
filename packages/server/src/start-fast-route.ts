// POST /v1/runs asking for an event stream, served in front of Hono behind `factory serve`'s Node
// server, as the gateway's routes are (gateway/gateway-fast-route.ts): in a burst of streaming starts
// the API server is CPU-bound, and Hono's routing, context, middleware chain and validators, and the
// Response and Headers it builds, were 15-25% of its CPU per start. What such a start meets in Hono
// is done here, in Hono's order, with the very same functions: the host check (shared with the
// middleware), the body limit's judgement of a declared length, the request id and its one log line
// and metrics (requestFinished), the body's hygiene (bodyRefusal), authentication with its
// failed-auth and per-token limits (HttpAuth.authenticate), the body's JSON and schema (the route's
// own, its 400 as the app's validation hook words it), the role check (HttpAuth.admit), the start
// itself (startRequestedRun: 503 while closing, traceresponse, the allowed decision counted), and
// every refusal answered as the app's error handler answers it (problemAnswer). The stream is
// written straight to Node's response (writeEventStream), with no Response built at all.
//
// Anything else goes to Hono untouched, before this route has read or decided anything: another
// path or method, a query string (?stream=true included), no text/event-stream in Accept, a body
// not declared plain JSON (its media-type checks are the route's), without a declared length
// (chunked) or over the limit, CORS configured, an HTTP/2 request, and a Host or Origin the check
// does not allow (the middleware refuses it, and counts and logs the refusal, as for any route).
import { randomUUID } from 'node:crypto';
import { ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { HTTPException } from 'hono/http-exception';
import type { ServerRole, TokenPrincipal } from './api-tokens.ts';
import { startRunRequest } from './api-schemas.ts';
import type { HostCheck } from './host-guard.ts';
import { problemAnswer } from './http-errors.ts';
import { bodyRefusal } from './request-hygiene.ts';
import { middlewareWouldPass, requestFinished } from './request-middleware.ts';
import type { RequestView } from './request-view.ts';
import { parseWith, type RouteContext } from './routes/context.ts';
import { startRequestedRun, startRoles, startStreamEnds } from './routes/runs.ts';
import { writeEventStream } from './run-stream.ts';
import { requestIdFrom, type ServerLog, type ServerLogWithOwn } from './server-log.ts';

/** What the route in front of Hono shares with the app behind it. */
export interface StartFastRouteOptions {
  /** The routes' context: the runs' driver, hub, closing signal, metrics. */
  context: RouteContext;
  /** The server's authentication of a request's bearer token (HttpAuth.authenticate). */
  authenticate: (request: RequestView) => Promise<TokenPrincipal>;
  /** The role check of a request Hono did not route (HttpAuth.admit). */
  admit: (principal: TokenPrincipal, roles: readonly ServerRole[], request: { method: string; route: string }) => TokenPrincipal;
  /** The middleware's host check, when the server checks Host and Origin. */
  hostCheck: HostCheck | undefined;
  /** CORS origins are configured: Hono's cors middleware answers those requests, so all go through Hono. */
  cors: boolean;
  /** The largest body (bytes), as the middleware's body limit. */
  maxBodyBytes: number;
  /** The request log (the middleware's). */
  requestLog: ServerLogWithOwn;
  /** The server's log, for a failure no route answered. */
  serverLog: ServerLog;
}

const path = '/v1/runs';
/** The route template Hono's log line names at each step: its middleware ('/*'), the /v1 authentication ('/v1/*'), the route. */
const routes = { hygiene: '/*', authentication: '/v1/*', route: path } as const;
/** Content types this route takes; any other goes to Hono, whose route answers 415 or reads it otherwise. */
const jsonContentType = /^application\/json(?:; ?charset=utf-8)?$/i;
/** What Hono's JSON validator throws for a body that does not parse (the app's error handler words the answer). */
const malformedJson = () => new HTTPException(400, { message: 'Malformed JSON in request body' });

/**
 * A fetch for @hono/node-server's request (whose headers, URL and body it reads as Hono would) that
 * answers a streaming start itself, or returns undefined for Hono to answer the request.
 */
export function startFastRoute(options: StartFastRouteOptions): (request: Request, env: unknown) => Promise<Response> | undefined {
  return (request, env) => {
    if (options.cors || request.method !== 'POST') return undefined;
    const url = request.url;
    const pathStart = url.indexOf('/', url.indexOf('//') + 2);
    if (pathStart < 0 || url.slice(pathStart) !== path) return undefined;
    // An HTTP/1.1 response only (an HTTP/2 one takes Hono's web stream).
    const outgoing = (env as { outgoing?: unknown } | undefined)?.outgoing;
    if (!(outgoing instanceof ServerResponse)) return undefined;
    const headers = request.headers;
    // The route's own test of a request that wants an event stream (its query alternative goes to Hono).
    if (!(headers.get('accept') ?? '').includes('text/event-stream')) return undefined;
    if (!jsonContentType.test(headers.get('content-type') ?? '')) return undefined;
    if (!middlewareWouldPass(request, options)) return undefined;
    return serve(options, request, env, outgoing);
  };
}

async function serve(options: StartFastRouteOptions, request: Request, env: unknown, outgoing: ServerResponse): Promise<Response> {
  const started = performance.now();
  const headers = request.headers;
  const supplied = headers.get('x-request-id') ?? undefined;
  const requestId = requestIdFrom(supplied, randomUUID);
  const traceparent = headers.get('traceparent') ?? undefined;
  // Headers set on the way (WWW-Authenticate, Retry-After, traceresponse), kept on any answer as Hono's c.header keeps them.
  const set: Record<string, string> = {};
  const view: RequestView = {
    req: { header: (name) => headers.get(name) ?? undefined, method: 'POST', path, url: request.url },
    header: (name, value) => {
      set[name.toLowerCase()] = value;
    },
    env,
  };
  let route: string = routes.hygiene;
  let principal: TokenPrincipal | undefined;
  let runId: string | undefined;
  let refusal: { status: number; body: unknown } | undefined;
  try {
    const text = await request.text();
    const refused = bodyRefusal(text);
    if (refused) refusal = { status: 400, body: refused };
    else {
      route = routes.authentication;
      principal = await options.authenticate(view);
      route = routes.route;
      // The route's validators, then its handler: a body is judged before the caller's role.
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw malformedJson();
      }
      const body = parseWith(startRunRequest, value, 'body');
      const admitted = options.admit(principal, startRoles, { method: 'POST', route: routes.route });
      const { channel } = await startRequestedRun(options.context, admitted, body, traceparent, view.header);
      runId = channel.runId;
      writeEventStream(outgoing, { 'x-request-id': requestId, ...set }, options.context.closing, channel, 0, startStreamEnds);
    }
  } catch (error) {
    refusal = problemAnswer(options.serverLog, 'POST', path, error);
  }
  const response = refusal
    ? new Response(JSON.stringify(refusal.body), {
        status: refusal.status,
        headers: { 'x-request-id': requestId, ...set, 'content-type': 'application/json' },
      })
    : RESPONSE_ALREADY_SENT;
  requestFinished(options.requestLog, options.context.metrics, {
    started,
    supplied,
    requestId,
    method: 'POST',
    path,
    route,
    status: refusal?.status ?? 200,
    principal,
    runId,
    traceparent,
    traceResponse: set.traceresponse,
  });
  return response;
}
