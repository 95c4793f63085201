// Calling a provider: one model with retries on 408, 409, 429, 5xx, timeouts and connection
// errors (a server's retry-after honoured up to the backoff ceiling), until its response headers
// arrive; and passing a streamed answer through to the app event by event while it is read.
//
// Requests go out through undici's request() on one keep-alive Agent for the process, not through
// fetch(): connections to a provider are reused across requests, and fetch's Request/Response
// objects, web streams and header validation cost about 0.6 ms of CPU per call more (measured side
// by side against the local mock provider), most of what a gateway adds to a call. Every answer's
// body is read to its end or destroyed (never left half-read on a pooled connection).
import type { ServerResponse } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Agent, errors, request, type Dispatcher } from 'undici';
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

// One pool of kept-alive connections per origin for the process (undici's defaults: idle
// connections closed after 4 s, or sooner when the provider's Keep-Alive header says so).
let agent: Agent | undefined;
function dispatcher(): Dispatcher {
  agent ??= new Agent({ keepAliveTimeout: 4_000 });
  return agent;
}

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
  for (let attempt = 1; ; attempt++) {
    let failure: Extract<UpstreamResult, { kind: 'failed' }>;
    let retryAfterMs: number | undefined;
    try {
      if (signal.aborted) throw signal.reason;
      const response = await request(url, {
        method: 'POST',
        headers,
        body,
        signal,
        dispatcher: dispatcher(),
        headersTimeout: settings.timeoutMs,
      });
      const answer = answerOf(response);
      if (answer.status >= 200 && answer.status < 300) return { kind: 'answered', response: answer, attempts: attempt };
      const bodyText = await readText(answer.body).catch(() => '');
      const status = answer.status;
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
      const timedOut = error instanceof errors.HeadersTimeoutError;
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

/** The answer with its body decompressed when the provider compressed it anyway (nothing asks it to). */
function answerOf(response: Dispatcher.ResponseData): UpstreamResponse {
  const encoding = header(response.headers, 'content-encoding')?.trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined;
  const body = decoder ? pipeline(response.body, decoder, () => undefined) : response.body;
  return { status: response.statusCode, contentType: header(response.headers, 'content-type'), body };
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A body read whole, as UTF-8 text; a body that ends early rejects. */
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

function retryAfter(headers: Dispatcher.ResponseData['headers']): number | undefined {
  const milliseconds = header(headers, 'retry-after-ms');
  if (milliseconds !== undefined && Number.isFinite(Number(milliseconds)) && Number(milliseconds) >= 0) return Number(milliseconds);
  const seconds = header(headers, 'retry-after');
  if (seconds !== undefined && Number.isFinite(Number(seconds)) && Number(seconds) >= 0) return Number(seconds) * 1000;
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
 * A provider's server-sent event stream passed through to the app, event by event as the provider
 * sent it (an event the reader drops is left out), reporting what it said once it ends, breaks, the
 * app goes away or it is abandoned. Behind `factory serve` it is written straight to Node's
 * response (toNode); elsewhere it is read as a web stream (toWeb). One of the three, once.
 */
export class EventRelay {
  readonly #upstream: Readable;
  readonly #reader: StreamReader;
  readonly #onEnd: (outcome: WireOutcome, error?: string) => void;
  #buffer = '';
  #ended = false;

  constructor(upstream: Readable, reader: StreamReader, onEnd: (outcome: WireOutcome, error?: string) => void) {
    this.#upstream = upstream;
    this.#reader = reader;
    this.#onEnd = onEnd;
  }

  /** Writes the events to `outgoing` as they come (its headers are written already, or go with the first write). */
  toNode(outgoing: ServerResponse): void {
    const upstream = this.#upstream;
    upstream.setEncoding('utf8');
    const detach = () => {
      upstream.off('data', onData);
      upstream.off('end', onEnd);
      upstream.off('error', onError);
      upstream.off('close', onClose);
      outgoing.off('close', onGone);
      outgoing.off('drain', onDrain);
    };
    const onData = (text: string) => {
      const out = this.#take(text);
      if (out && !outgoing.write(out)) {
        upstream.pause();
        outgoing.once('drain', onDrain);
      }
    };
    const onDrain = () => upstream.resume();
    const onEnd = () => {
      detach();
      const rest = this.#take(undefined);
      this.#end();
      if (rest) outgoing.end(rest);
      else outgoing.end();
    };
    const onError = (error: unknown) => {
      detach();
      this.#end(`the stream broke (${causeOf(error)})`);
      upstream.destroy();
      outgoing.destroy(error instanceof Error ? error : undefined);
    };
    // Closed before its end without an error (destroyed): broken all the same.
    const onClose = () => onError(new Error('the provider closed the stream'));
    // The app went away (or its socket failed) before the answer ended.
    const onGone = () => {
      detach();
      this.#end('the app closed the stream');
      upstream.destroy();
    };
    upstream.on('data', onData);
    upstream.once('end', onEnd);
    upstream.once('error', onError);
    upstream.once('close', onClose);
    outgoing.once('close', onGone);
  }

  /** The events as a web stream, read on demand. */
  toWeb(): ReadableStream<Uint8Array> {
    const upstream = this.#upstream;
    let source: AsyncIterator<Buffer> | undefined;
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    return new ReadableStream<Uint8Array>(
      {
        // A pull that enqueues nothing is not called again (the stream waits for the next read, which
        // waits for this pull): so it reads on until it has an event to pass on or the answer ends. A
        // read may hold no complete event, or only one the reader drops (the usage the app did not ask for).
        pull: async (controller) => {
          try {
            for (;;) {
              source ??= upstream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
              const { done, value } = await source.next();
              if (done) {
                const rest = this.#take(decoder.decode());
                const last = rest + this.#take(undefined);
                if (last) controller.enqueue(encoder.encode(last));
                controller.close();
                this.#end();
                return;
              }
              const out = this.#take(decoder.decode(value, { stream: true }));
              if (out) {
                controller.enqueue(encoder.encode(out));
                return;
              }
            }
          } catch (error) {
            this.#end(`the stream broke (${causeOf(error)})`);
            controller.error(error);
          }
        },
        cancel: async (reason) => {
          this.#end('the app closed the stream');
          upstream.destroy();
          await source?.return?.(reason).catch(() => undefined);
        },
      },
      // Nothing is read from the provider before the app's side asks (it may go the Node way instead).
      { highWaterMark: 0 },
    );
  }

  /** Nothing is passed on (another answer went to the app instead): the provider's stream is dropped. */
  abandon(why: string): void {
    this.#end(why);
    this.#upstream.destroy();
  }

  /**
   * Takes text just read (undefined: the stream ended) and returns the complete events among what
   * is buffered that the app gets, as text; at the end, also what is left (a last event without its
   * blank line).
   */
  #take(text: string | undefined): string {
    if (text === undefined) {
      const rest = this.#buffer;
      this.#buffer = '';
      return rest;
    }
    let buffer = this.#buffer + text;
    if (buffer.includes('\r')) buffer = buffer.replace(/\r\n/g, '\n');
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
      if (data === undefined || this.#reader.event(data, name)) out += `${block}\n\n`;
    }
    this.#buffer = buffer;
    return out;
  }

  #end(error?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd(this.#reader.outcome(), error);
  }
}
