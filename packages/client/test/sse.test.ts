// The SSE parser sees events however the bytes are split: across chunks, CRLF line ends,
// multi-line data, comments and a final event without its blank line are handled as browsers do.
import { describe, expect, it } from 'vitest';
import { parseServerSentEvents } from '@aifactory/client';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

describe('parseServerSentEvents', () => {
  it('yields the same events whatever the chunking, skipping comments', async () => {
    const text =
      ': keep-alive\n\nid: 1\nevent: token\ndata: {"text":"Hé"}\n\nid: 2\r\nevent: run.completed\r\ndata: line one\r\ndata: line two\r\n\r\n';
    const whole = [];
    for await (const event of parseServerSentEvents(streamOf([text]))) whole.push(event);
    expect(whole).toEqual([
      { id: '1', event: 'token', data: '{"text":"Hé"}' },
      { id: '2', event: 'run.completed', data: 'line one\nline two' },
    ]);
    const bytes = new TextEncoder().encode(text);
    const split = [];
    // One byte at a time splits the multi-byte é and the CRLF pairs.
    const single = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
        controller.close();
      },
    });
    for await (const event of parseServerSentEvents(single)) split.push(event);
    expect(split).toEqual(whole);
  });

  it('drops an event the stream cut off before its blank line, as EventSource does', async () => {
    const events = [];
    for await (const event of parseServerSentEvents(streamOf(['data: complete\n\ndata: cut off']))) events.push(event);
    expect(events).toEqual([{ event: 'message', data: 'complete' }]);
  });
});
