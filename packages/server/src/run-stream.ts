// A run's events as server-sent events: from an event id on, with keep-alives, until the stream
// is done, the client leaves or the server closes (a server.closing event naming the last id).
import type { RunEvent } from '@aifactory/execution';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { RunChannel } from './run-hub.ts';

/** Streams a channel from `afterId` until `until` says the stream is done, the client leaves or the server closes. */
export function streamChannel(
  closing: AbortSignal,
  c: Context,
  channel: RunChannel,
  afterId: number,
  until: (event: RunEvent) => boolean,
): Response {
  return streamSSE(c, async (stream) => {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    let writing: Promise<unknown> = Promise.resolve();
    const write = (step: () => Promise<unknown>) => {
      writing = writing.then(step).catch(() => finish());
    };
    const unsubscribe = channel.subscribe(afterId, (numbered) => {
      write(() => stream.writeSSE({ id: String(numbered.id), event: numbered.event.type, data: JSON.stringify(numbered.event) }));
      if (until(numbered.event)) write(async () => finish());
    });
    const heartbeat = setInterval(() => write(() => stream.write(': keep-alive\n\n')), 15_000);
    const onClosing = () =>
      write(() =>
        stream
          .writeSSE({
            event: 'server.closing',
            data: JSON.stringify({ type: 'server.closing', runId: channel.runId, lastEventId: channel.events.length }),
          })
          .then(finish),
      );
    closing.addEventListener('abort', onClosing, { once: true });
    stream.onAbort(finish);
    await finished;
    clearInterval(heartbeat);
    unsubscribe();
    closing.removeEventListener('abort', onClosing);
    await writing;
  });
}
