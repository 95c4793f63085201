// A server-sent events parser over a fetch response body (WHATWG ReadableStream + TextDecoder),
// so it runs in browsers and Node alike. Written here rather than taken from a library because
// EventSource cannot send an Authorization header or a POST body, and the parsing is 40 lines.

/** One server-sent event. */
export interface ServerSentEvent {
  /** The `id:` field, when sent. */
  id?: string;
  /** The `event:` field (default "message"). */
  event: string;
  /** The `data:` lines joined by newlines. */
  data: string;
}

/** Parses an SSE byte stream into events, as the HTML standard describes (comments skipped). */
export async function* parseServerSentEvents(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event: { id?: string; event?: string; data: string[] } = { data: [] };
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        // A lone CR at the end may be half of a CRLF split across chunks: wait for the next one.
        if (!done && newline === buffer.length - 1 && buffer.endsWith('\r')) break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (event.data.length > 0)
            yield { ...(event.id !== undefined ? { id: event.id } : {}), event: event.event ?? 'message', data: event.data.join('\n') };
          event = { data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') event.data.push(text);
        else if (field === 'event') event.event = text;
        else if (field === 'id') event.id = text;
      }
      if (done) return;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}
