// Calling a provider: one model with retries on 408, 409, 429, 5xx, timeouts and connection
// errors (a server's retry-after honoured up to the backoff ceiling), until its response headers
// arrive; and passing a streamed answer through to the app event by event while it is read.
import type { StreamReader, WireOutcome } from './wire-protocols.ts';

/** How one model was called. */
export type UpstreamResult =
  | { kind: 'answered'; response: Response; attempts: number }
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
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no response within ${settings.timeoutMs} ms`)), settings.timeoutMs);
    let failure: Extract<UpstreamResult, { kind: 'failed' }>;
    let retryAfterMs: number | undefined;
    try {
      const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.any([signal, controller.signal]) });
      clearTimeout(timer);
      if (response.ok) return { kind: 'answered', response, attempts: attempt };
      const bodyText = await response.text().catch(() => '');
      const status = response.status;
      const unavailable = status === 408 || status === 409 || status === 429 || status >= 500;
      retryAfterMs = retryAfter(response.headers);
      failure = {
        kind: 'failed',
        attempts: attempt,
        what: `status ${status}`,
        status,
        bodyText,
        contentType: response.headers.get('content-type') ?? 'application/json',
        unavailable,
      };
    } catch (error) {
      clearTimeout(timer);
      if (signal.aborted) throw signal.reason;
      const timedOut = controller.signal.aborted;
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

function retryAfter(headers: Headers): number | undefined {
  const milliseconds = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds;
  const seconds = Number(headers.get('retry-after'));
  if (headers.has('retry-after') && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
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
  upstream: ReadableStream<Uint8Array>,
  reader: StreamReader,
  onEnd: (outcome: WireOutcome, error?: string) => void,
): ReadableStream<Uint8Array> {
  const source = upstream.getReader();
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
        const { done, value } = await source.read();
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
      await source.cancel(reason).catch(() => undefined);
    },
  });
}
