// A run's events as server-sent events: from an event id on, with keep-alives, until the stream
// is done, the client leaves or the server closes (a server.closing event naming the last id).
//
// Two ways out, the same bytes: behind `factory serve` (a Node server, nodeFetch) the events are
// written straight to Node's response; elsewhere (app.request in tests, other runtimes) through
// Hono's web streams. The first is what a start pays on the path to its first event: Hono's
// streamSSE builds a TransformStream, a Response and a reader that @hono/node-server pumps into
// the socket, about a fifth of the server's CPU per streaming start in a profile of 200 at once.
import { ServerResponse } from 'node:http';
import type { Http2Bindings, HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { RunEvent } from '@aifactory/execution';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { NumberedEvent, RunChannel } from './run-hub.ts';

/** The response headers of an event stream (as Hono's streamSSE sets them). */
const eventStreamHeaders = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'transfer-encoding': 'chunked',
} as const;

/** Requests arriving through nodeFetch, whose streams may be written to Node's response. */
const nodeRequests = new WeakSet<Request>();
/** Streams a route asked for, written once the app's response (its status and headers) is final; abandoned when another answer went. */
const pendingStreams = new WeakMap<Request, { write: (outgoing: ServerResponse) => void; abandon?: () => void; answer?: Response }>();

/**
 * Has `write` write the event stream of a route's `request` straight to Node's response once every middleware has
 * had its say (the route answers `c.body(null, 200, <text/event-stream headers>)`); `abandon` is
 * called instead when another answer goes (an error after the route). False where the request
 * did not come through nodeFetch: the route answers with a web stream then.
 */
export function streamToNode(request: Request, write: (outgoing: ServerResponse) => void, abandon?: () => void): boolean {
  if (!nodeRequests.has(request)) return false;
  pendingStreams.set(request, { write, ...(abandon ? { abandon } : {}) });
  return true;
}

/**
 * The answer (status 200, no body, text/event-stream headers) a route returns for the stream
 * streamToNode took: when the app's response is still this very object, nodeFetch need not read
 * its body to know it has none. @hono/node-server's lightweight Response builds a whole web
 * Response (undici's headers and body state) the first time its `body` is read: 8.5% of the API
 * server's CPU in a profile of 200 streaming starts at once, for an answer known to be empty.
 */
export function streamAnswer(request: Request, answer: Response): Response {
  const stream = pendingStreams.get(request);
  if (stream) stream.answer = answer;
  return answer;
}

/**
 * An app's fetch for @hono/node-server: a stream a route opens (streamChannel) is written straight
 * to Node's response once every middleware has had its say on the response (headers, status);
 * anything else goes the ordinary way.
 */
export function nodeFetch(fetch: (request: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response>) {
  return async (request: Request, env: HttpBindings | Http2Bindings): Promise<Response> => {
    const outgoing = env.outgoing;
    // HTTP/1.1 responses only; an HTTP/2 one takes the web-stream way.
    if (!(outgoing instanceof ServerResponse)) return fetch(request, env);
    nodeRequests.add(request);
    const response = await fetch(request, env);
    const stream = pendingStreams.get(request);
    if (!stream) return response;
    pendingStreams.delete(request);
    // A middleware may have answered otherwise after the route (an error): then that answer goes.
    // The route's own answer (streamAnswer) has no body; any other is read to see whether it has.
    if (
      response.status !== 200 ||
      (response !== stream.answer && response.body !== null) ||
      !response.headers.get('content-type')?.startsWith('text/event-stream')
    ) {
      stream.abandon?.();
      return response;
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    outgoing.writeHead(200, headers);
    stream.write(outgoing);
    // No middleware sees this one (the app is done): it only tells @hono/node-server the response is written.
    return RESPONSE_ALREADY_SENT;
  };
}

/** One server-sent event as text (Hono's writeSSE format: event, data lines, id). */
export function sseMessage(message: { event: string; data: string; id?: string }): string {
  const data =
    message.data.includes('\n') || message.data.includes('\r') ? message.data.split(/\r\n|\r|\n/).join('\ndata: ') : message.data;
  return `event: ${message.event}\ndata: ${data}\n${message.id === undefined ? '' : `id: ${message.id}\n`}\n`;
}

const eventMessage = (numbered: NumberedEvent) =>
  sseMessage({ id: String(numbered.id), event: numbered.event.type, data: JSON.stringify(numbered.event) });

const closingMessage = (channel: RunChannel) =>
  sseMessage({
    event: 'server.closing',
    data: JSON.stringify({ type: 'server.closing', runId: channel.runId, lastEventId: channel.events.length }),
  });

/** Streams a channel from `afterId` until `until` says the stream is done, the client leaves or the server closes. */
export function streamChannel(
  closing: AbortSignal,
  c: Context,
  channel: RunChannel,
  afterId: number,
  until: (event: RunEvent) => boolean,
): Response {
  if (streamToNode(c.req.raw, (outgoing) => writeChannel(outgoing, closing, channel, afterId, until)))
    return streamAnswer(c.req.raw, c.body(null, 200, eventStreamHeaders));
  return streamSSE(c, async (stream) => {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    let writing: Promise<unknown> = Promise.resolve();
    const write = (step: () => Promise<unknown>) => {
      writing = writing.then(step).catch(() => finish());
    };
    const unsubscribe = channel.subscribe(afterId, (numbered) => {
      write(() => stream.write(eventMessage(numbered)));
      if (until(numbered.event)) write(async () => finish());
    });
    const heartbeat = setInterval(() => write(() => stream.write(': keep-alive\n\n')), 15_000);
    const onClosing = () => write(() => stream.write(closingMessage(channel)).then(finish));
    closing.addEventListener('abort', onClosing, { once: true });
    stream.onAbort(finish);
    await finished;
    clearInterval(heartbeat);
    unsubscribe();
    closing.removeEventListener('abort', onClosing);
    await writing;
  });
}

/**
 * Answers a request with a channel's event stream written straight to Node's response: status 200,
 * `headers` with the event stream's own, then each event (the run start's route in front of Hono,
 * which has no middleware after it to wait for, nor a Response to build).
 */
export function writeEventStream(
  outgoing: ServerResponse,
  headers: Record<string, string>,
  closing: AbortSignal,
  channel: RunChannel,
  afterId: number,
  until: (event: RunEvent) => boolean,
): void {
  outgoing.writeHead(200, { ...headers, ...eventStreamHeaders });
  writeChannel(outgoing, closing, channel, afterId, until);
}

/** The Node way: each event written to the response as it comes; the response ends with the stream. */
function writeChannel(
  outgoing: ServerResponse,
  closing: AbortSignal,
  channel: RunChannel,
  afterId: number,
  until: (event: RunEvent) => boolean,
): void {
  let done = false;
  const heartbeat = setInterval(() => {
    if (!done) outgoing.write(': keep-alive\n\n');
  }, 15_000);
  // The events already there (the first, at a start) go out in one write, with the headers.
  let replayed: string | undefined = '';
  const finish = () => {
    if (done) return;
    done = true;
    clearInterval(heartbeat);
    unsubscribe();
    closing.removeEventListener('abort', onClosing);
    outgoing.off('close', finish);
    if (!outgoing.writableEnded) outgoing.end();
  };
  const onClosing = () => {
    if (done) return;
    outgoing.write(closingMessage(channel));
    finish();
  };
  let ended = false;
  const unsubscribe = channel.subscribe(afterId, (numbered) => {
    if (done || ended) return;
    if (replayed === undefined) outgoing.write(eventMessage(numbered));
    else replayed += eventMessage(numbered);
    if (until(numbered.event)) {
      ended = true;
      if (replayed === undefined) finish();
    }
  });
  if (replayed.length > 0) outgoing.write(replayed);
  replayed = undefined;
  if (ended) {
    finish();
    return;
  }
  // The client left (or the socket failed): stop following.
  outgoing.on('close', finish);
  closing.addEventListener('abort', onClosing, { once: true });
  if (closing.aborted) onClosing();
}
