// The gateway's two routes served in front of Hono, behind `factory serve`'s Node server: a chat
// request is the server's hottest path, and Hono's routing, context and middleware chain were about
// a tenth of its CPU. What a gateway request meets there is done here with the very same functions:
// the host check (its memory of allowed Host and Origin pairs shared with the middleware), the body
// limit's judgement of a declared length, the request id and its log line and metrics
// (requestFinished), authentication with its failed-auth and per-token limits (HttpAuth), and
// answerGatewayRequest, which the Hono route runs too. Anything else goes to Hono untouched, before
// this route has read or decided anything: another path or method, a query string, CORS configured,
// a body without a declared length (chunked) or over the limit, and a Host or Origin the check does
// not allow (the middleware refuses it, and counts and logs the refusal, as for any route).
import { randomUUID } from 'node:crypto';
import type { TokenPrincipal } from '../api-tokens.ts';
import type { HostCheck } from '../host-guard.ts';
import { unexpectedFailure } from '../http-errors.ts';
import { middlewareWouldPass, requestFinished, requestIdOnAnswer, type FinishedRequest } from '../request-middleware.ts';
import type { RequestView } from '../request-view.ts';
import { streamAnswer } from '../run-stream.ts';
import type { ServerLog, ServerLogWithOwn } from '../server-log.ts';
import { requestIdFrom } from '../server-log.ts';
import type { RouteContext } from '../routes/context.ts';
import { answerGatewayRequest, gatewayBasePaths, relayToNode, type GatewayRoutesOptions } from './gateway-routes.ts';
import { anthropicWire, openAIWire, type WireProtocol } from './wire-protocols.ts';

/** What the route in front of Hono shares with the app behind it. */
export interface GatewayFastRouteOptions extends GatewayRoutesOptions {
  /** The middleware's host check, when the server checks Host and Origin. */
  hostCheck: HostCheck | undefined;
  /** CORS origins are configured: Hono's cors middleware answers those requests, so all go through Hono. */
  cors: boolean;
  /** The largest body (bytes), as the middleware's body limit. */
  maxBodyBytes: number;
  /** The request log (the middleware's) and metrics. */
  requestLog: ServerLogWithOwn;
  metrics: RouteContext['metrics'];
  /** The server's log, for a failure no route answered. */
  serverLog: ServerLog;
}

/** The gateway's routes by their exact path (no query string: a request with one goes through Hono). */
const routes = new Map<string, WireProtocol>([
  [`${gatewayBasePaths.openai}/chat/completions`, openAIWire],
  [`${gatewayBasePaths.anthropic}/v1/messages`, anthropicWire],
]);

/**
 * A fetch for @hono/node-server's request (whose headers, URL and body it reads as Hono would) that
 * answers the gateway's routes itself, or returns undefined for Hono to answer the request.
 */
export function gatewayFastRoute(options: GatewayFastRouteOptions): (request: Request, env: unknown) => Promise<Response> | undefined {
  return (request, env) => {
    if (options.cors || request.method !== 'POST') return undefined;
    const url = request.url;
    const pathStart = url.indexOf('/', url.indexOf('//') + 2);
    const path = pathStart < 0 ? '' : url.slice(pathStart);
    const protocol = routes.get(path);
    if (!protocol) return undefined;
    if (!middlewareWouldPass(request, options)) return undefined;
    return serve(options, protocol, path, request, env);
  };
}

async function serve(
  options: GatewayFastRouteOptions,
  protocol: WireProtocol,
  path: string,
  request: Request,
  env: unknown,
): Promise<Response> {
  const started = performance.now();
  const headers = request.headers;
  const supplied = headers.get('x-request-id') ?? undefined;
  const requestId = requestIdFrom(supplied, randomUUID);
  // Headers authentication sets on its refusals (WWW-Authenticate, Retry-After), as Hono's c.header keeps them.
  const set: Record<string, string> = {};
  let principal: TokenPrincipal | undefined;
  const view: RequestView = {
    req: { header: (name) => headers.get(name) ?? undefined, method: 'POST', path, url: request.url },
    header: (name, value) => {
      set[name.toLowerCase()] = value;
    },
    env,
  };
  let response: Response;
  try {
    const reply = await answerGatewayRequest(protocol, view, request, requestId, options, (authenticated) => (principal = authenticated));
    if (reply.kind === 'refused')
      response = new Response(reply.body, {
        status: reply.status,
        headers: { 'x-request-id': requestId, ...set, 'content-type': 'application/json' },
      });
    else {
      const streamed = relayToNode(request, reply.answer);
      response = streamed
        ? streamAnswer(request, new Response(null, { status: 200, headers: { 'x-request-id': requestId, ...streamed } }))
        : reply.answer;
    }
  } catch (error) {
    // As the app's error handler answers what no route did (the app went away mid-body, say).
    response = new Response(JSON.stringify(unexpectedFailure(options.serverLog, 'POST', path, error)), {
      status: 500,
      headers: { 'x-request-id': requestId, 'content-type': 'application/json' },
    });
  }
  const answered = response;
  const traceResponse = requestIdOnAnswer(answered, requestId, () => {
    response = new Response(answered.body, answered);
    response.headers.set('x-request-id', requestId);
  });
  const finished: FinishedRequest = {
    started,
    supplied,
    requestId,
    method: 'POST',
    path,
    route: path,
    status: response.status,
    principal,
    runId: undefined,
    traceparent: headers.get('traceparent') ?? undefined,
    traceResponse,
  };
  requestFinished(options.requestLog, options.metrics, finished);
  return response;
}
