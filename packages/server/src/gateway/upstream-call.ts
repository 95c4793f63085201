// Calling a provider: one model with retries on 408, 409, 429, 5xx, timeouts and connection
// errors (a server's retry-after honoured up to the backoff ceiling), until its response headers
// arrive; and passing a streamed answer through to the app event by event while it is read.
//
// Requests go out through node:http(s) with keep-alive agents, not fetch(): the connections to a
// provider are reused across requests (never one opened per call), and measured side by side
// against the local mock provider (.../bench/gateway.bench.ts's), fetch() cost about 0.6 ms more
// CPU per call than node:http on the same keep-alive connection (its Request/Response objects,
// web streams and header validation), which is most of what a gateway adds to a call.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { StreamReader, WireOutcome } from './wire-protocols.ts';

/** A provider's answer as it arrives: its status, content type and body (decompressed). */
export interface UpstreamResponse {
  status: number;
  contentType: string | undefined;
  body: Readable;
}

/** How one model was called. */
export type UpstreamResult =
  | { kind: 'answered'; response: UpstreamResponse; attempts: number }
  | {
      kind: 'failed';
      attempts: number;
      /** What went wrong, for the trace and the app (never with a key in it). */
      what: string;
      /** The provider's status and error body, when it answered with one. */
      status?: number;
      bodyText?: string;
      contentType?: string;
      /** The provider is unavailable (overloaded, down, slow): another model may help. */
      unavailable: boolean;
    };

// One pool of kept-alive connections per scheme for the process; idle sockets are reused last-in
// first-out, so a steady trickle of requests keeps reusing the warmest connection.
const agents = {
  'http:': new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
  'https:': new https.Agent({ keepAlive: true, scheduling: 'lifo' }),
};

/** Retry settings. */
export interface RetrySettings {
  maxRetries: number;
  backoff: { initialDelayMs: number; maxDelayMs: number };
  /** Time to the response headers, per attempt. */
  timeoutMs: number;
}

/** Posts `body` to `url`, retrying while the provider is unavailable. */
export async function callUpstream(
  url: string,
  headers: Record<string, string>,
  body: string,
  settings: RetrySettings,
  signal: AbortSignal,
): Promise<UpstreamResult> {
  const target = new URL(url);
  for (let attempt = 1; ; attempt++) {
    let failure: Extract<UpstreamResult, { kind: 'failed' }>;
    let retryAfterMs: number | undefined;
    try {
      const response = await post(target, headers, body, settings.timeoutMs, signal);
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) return { kind: 'answered', response: answerOf(response, status), attempts: attempt };
      const answer = answerOf(response, status);
      const bodyText = await readText(answer.body).catch(() => '');
      const unavailable = status === 408 || status === 409 || status === 429 || status >= 500;
      retryAfterMs = retryAfter(response.headers);
      failure = {
        kind: 'failed',
        attempts: attempt,
        what: `status ${status}`,
        status,
        bodyText,
        contentType: answer.contentType ?? 'application/json',
        unavailable,
      };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const timedOut = error instanceof UpstreamTimeout;
      failure = {
        kind: 'failed',
        attempts: attempt,
        what: timedOut ? `timed out after ${settings.timeoutMs} ms` : `connection failed (${causeOf(error)})`,
        unavailable: true,
      };
    }
    if (!failure.unavailable || attempt > settings.maxRetries) return failure;
    const exponential =
      Math.min(settings.backoff.maxDelayMs, settings.backoff.initialDelayMs * 2 ** (attempt - 1)) * (1 - Math.random() * 0.25);
    await sleep(retryAfterMs === undefined ? exponential : Math.min(retryAfterMs, settings.backoff.maxDelayMs), signal);
  }
}

class UpstreamTimeout extends Error {}

/**
 * One POST: resolves when the response headers arrive (within `timeoutMs`). The app going away
 * (`signal`) cuts the request, and later the response body, whatever is left of it.
 */
function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const client = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
    let response: IncomingMessage | undefined;
    const onAbort = () => (response ? response.destroy(signal.reason as Error) : request.destroy(signal.reason as Error));
    const request = client.request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent },
      (incoming) => {
        clearTimeout(timer);
        response = incoming;
        incoming.once('close', () => signal.removeEventListener('abort', onAbort));
        resolve(incoming);
      },
    );
    const timer = setTimeout(() => request.destroy(new UpstreamTimeout(`no response within ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    request.once('error', (error) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      reject(error);
    });
    request.end(body);
  });
}

/** The response with its body decompressed when the provider compressed it anyway (nothing asks it to). */
function answerOf(response: IncomingMessage, status: number): UpstreamResponse {
  const encoding = response.headers['content-encoding']?.trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined;
  const body = decoder ? pipeline(response, decoder, () => undefined) : response;
  return { status, contentType: response.headers['content-type'], body };
}

/** A body read whole, as UTF-8 text. */
export function readText(body: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    body.once('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    body.once('error', reject);
    body.once('close', () => {
      if (!ended) reject(new Error('the response ended before its body did'));
    });
  });
}

function retryAfter(headers: IncomingHttpHeaders): number | undefined {
  const milliseconds = Number(headers['retry-after-ms']);
  if (headers['retry-after-ms'] !== undefined && Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds;
  const seconds = Number(headers['retry-after']);
  if (headers['retry-after'] !== undefined && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  return undefined;
}

function causeOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' ? code : cause instanceof Error ? cause.message : String(cause);
}

function sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, milliseconds);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Passes a server-sent event stream through, event by event, as the provider sent it (an event
 * the reader drops is left out), and reports what it said once it ends, breaks or the app goes away.
 */
export function passThroughEvents(
  upstream: Readable,
  reader: StreamReader,
  onEnd: (outcome: WireOutcome, error?: string) => void,
): ReadableStream<Uint8Array> {
  const source = upstream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffer = '';
  let ended = false;
  const end = (error?: string) => {
    if (ended) return;
    ended = true;
    onEnd(reader.outcome(), error);
  };
  const drain = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    let out = '';
    for (let boundary = buffer.indexOf('\n\n'); boundary >= 0; boundary = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      let name: string | undefined;
      let data: string | undefined;
      for (const line of block.split('\n')) {
        if (line.startsWith('data:')) data = data === undefined ? line.slice(5).trimStart() : `${data}\n${line.slice(5).trimStart()}`;
        else if (line.startsWith('event:')) name = line.slice(6).trim();
      }
      if (data === undefined || reader.event(data, name)) out += `${block}\n\n`;
    }
    if (out) controller.enqueue(encoder.encode(out));
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await source.next();
        if (done) {
          buffer += decoder.decode();
          drain(controller);
          if (buffer) controller.enqueue(encoder.encode(buffer));
          controller.close();
          end();
          return;
        }
        buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n/g, '\n');
        drain(controller);
      } catch (error) {
        end(`the stream broke (${causeOf(error)})`);
        controller.error(error);
      }
    },
    async cancel(reason) {
      end('the app closed the stream');
      upstream.destroy();
      await source.return?.(reason).catch(() => undefined);
    },
  });
}
