// The gateway's HTTP routes, mounted beside the API (not under /v1, whose bearer-only
// authentication and error shape are the API's): an app's SDK takes one of these base URLs
//   OpenAI:    <server>/gateway/openai/v1      (POST /chat/completions; Authorization: Bearer <token>)
//   Anthropic: <server>/gateway/anthropic      (POST /v1/messages; x-api-key: <token>, or Bearer)
// and the factory token authenticates as on every route (same tokens, OIDC, limits and cache).
// Every answer, errors included, is in the protocol's own shape, so the SDK raises its own errors.
import { ErrorCode } from '@aifactory/core';
import type { Context, Hono } from 'hono';
import type { TokenPrincipal } from '../api-tokens.ts';
import type { RequestView } from '../request-view.ts';
import { hasJsonNul } from '../request-hygiene.ts';
import { streamAnswer, streamToNode } from '../run-stream.ts';
import { eventRelayOf, gatewayErrorResponse, type LlmGateway } from './llm-gateway.ts';
import { anthropicWire, openAIWire, type GatewayErrorKind, type WireProtocol } from './wire-protocols.ts';

/** Roles admitted to the gateway (besides the server's local credential). */
export const gatewayRoles = ['gateway', 'operator', 'admin'] as const;

/** The gateway's base paths, for documentation and help. */
export const gatewayBasePaths = { openai: '/gateway/openai/v1', anthropic: '/gateway/anthropic' } as const;

/** What the routes need from the app they are mounted on. */
export interface GatewayRoutesOptions {
  gateway: LlmGateway;
  /** The server's authentication of a presented token (throws an HTTP problem with `status` and `message`). */
  authenticate: (c: RequestView, presented: string | undefined) => Promise<TokenPrincipal>;
  /** Counts and logs an auth decision. */
  authDecided?: (principal: string, outcome: 'allowed' | 'denied', details: Record<string, unknown>) => void;
  /** Structured log (redacting). */
  log?: (line: Record<string, unknown>) => void;
}

/** How the gateway answered a request: its answer, or the refusal of a token (written with the headers authentication set). */
export type GatewayReply = { kind: 'answer'; answer: Response } | { kind: 'refused'; status: number; body: string };

/**
 * One gateway request, whichever way it came in (Hono's route below, or the route in front of Hono,
 * gateway-fast-route.ts): authentication, the gateway's roles, the body's hygiene and JSON, then the
 * gateway. `raw` is the request (its headers, body and signal), `view` what authentication reads.
 */
export async function answerGatewayRequest(
  protocol: WireProtocol,
  view: RequestView,
  raw: Request,
  requestId: string | undefined,
  options: GatewayRoutesOptions,
  onPrincipal: (principal: TokenPrincipal) => void,
): Promise<GatewayReply> {
  const authorization = /^Bearer\s+(\S+)$/i.exec(view.req.header('authorization') ?? '')?.[1];
  const presented = authorization ?? view.req.header('x-api-key')?.trim();
  let principal: TokenPrincipal;
  try {
    principal = await options.authenticate(view, presented);
  } catch (error) {
    const status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 500;
    const kind: GatewayErrorKind =
      status === 401 ? 'authentication' : status === 429 ? 'rate_limit' : status === 403 ? 'permission' : 'internal';
    const message =
      status === 401
        ? `A valid factory token is required (${protocol.wire === 'openai' ? 'the SDK\u2019s apiKey, sent as Authorization: Bearer <token>' : 'the SDK\u2019s apiKey, sent as x-api-key: <token>'}; see \`factory tokens create --role gateway --role team.<team>\`).`
        : error instanceof Error
          ? error.message
          : String(error);
    return { kind: 'refused', status, body: JSON.stringify(protocol.error(kind, message).body) };
  }
  onPrincipal(principal);
  const answer = (response: Response): GatewayReply => ({ kind: 'answer', answer: response });
  if (principal.local !== true && !principal.roles.some((role) => (gatewayRoles as readonly string[]).includes(role))) {
    options.authDecided?.(principal.id, 'denied', { reason: 'role', token: principal.tokenId, path: view.req.path, needs: gatewayRoles });
    return answer(
      gatewayErrorResponse(
        protocol,
        'permission',
        `Token ${principal.tokenId} may not call the gateway; it needs one of the roles ${gatewayRoles.join(', ')}.`,
      ),
    );
  }
  const text = await raw.text();
  if (hasJsonNul(text))
    return answer(
      gatewayErrorResponse(protocol, 'invalid_request', 'The request body contains a NUL character (\\u0000), which no field accepts.'),
    );
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return answer(gatewayErrorResponse(protocol, 'invalid_request', `The request body is not valid JSON: ${(error as Error).message}.`));
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return answer(gatewayErrorResponse(protocol, 'invalid_request', 'The request body must be a JSON object.'));
  try {
    return answer(
      await options.gateway.handle(protocol, {
        caller: { principal: principal.id, roles: principal.roles },
        body: body as Record<string, unknown>,
        headers: raw.headers,
        signal: raw.signal,
        ...(requestId === undefined ? {} : { answerHeaders: { 'x-request-id': requestId } }),
      }),
    );
  } catch (error) {
    // Our fault (the trace could not be written, say): nothing was sent upstream without its record.
    const reference = Math.random().toString(36).slice(2, 10);
    options.log?.({
      event: 'gateway.failed',
      reference,
      principal: principal.id,
      path: view.req.path,
      error: error instanceof Error ? error.message : String(error),
    });
    return answer(
      gatewayErrorResponse(
        protocol,
        'internal',
        `The gateway failed to handle this request (${ErrorCode.Internal}, reference ${reference}); nothing was sent to the provider unrecorded.`,
      ),
    );
  }
}

/**
 * Has a streamed answer written event by event straight to Node's response (behind `factory serve`)
 * rather than through its web stream (which then is never read): the headers to answer with (no
 * body), or undefined where the answer is not streamed or the request did not come through Node.
 */
export function relayToNode(raw: Request, answer: Response): Record<string, string> | undefined {
  const streamed = eventRelayOf(answer);
  if (!streamed) return undefined;
  const relayed = streamToNode(
    raw,
    (outgoing) => streamed.relay.toNode(outgoing),
    () => streamed.relay.abandon('the server answered the app otherwise (an error after the gateway)'),
  );
  return relayed ? streamed.headers : undefined;
}

/** Mounts POST /gateway/openai/v1/chat/completions and POST /gateway/anthropic/v1/messages. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- mounted on the API app whatever its variables
export function registerGatewayRoutes(app: Hono<any>, options: GatewayRoutesOptions): void {
  const handle = async (protocol: WireProtocol, c: Context): Promise<Response> => {
    const requestId: unknown = c.get('requestId');
    const reply = await answerGatewayRequest(
      protocol,
      c,
      c.req.raw,
      typeof requestId === 'string' ? requestId : undefined,
      options,
      (principal) => c.set('principal', principal),
    );
    if (reply.kind === 'refused') return c.body(reply.body, reply.status as 401, { 'content-type': 'application/json' });
    const streamedHeaders = relayToNode(c.req.raw, reply.answer);
    if (streamedHeaders) return streamAnswer(c.req.raw, c.body(null, 200, streamedHeaders));
    return toContext(c, reply.answer);
  };
  app.post(`${gatewayBasePaths.openai}/chat/completions`, (c) => handle(openAIWire, c));
  app.post(`${gatewayBasePaths.anthropic}/v1/messages`, (c) => handle(anthropicWire, c));
}

/** Hands a Response to Hono so headers the middleware set (request id) are kept. */
function toContext(c: Context, response: Response): Response {
  c.res = response;
  return c.res;
}
