// A streamed run whose server lost its lease keeps streaming (real processes, Postgres): `factory
// serve` streams a run, is paused (SIGSTOP) in the middle of a step past its lease, and a second
// server takes the run over and finishes it. When the first wakes up it can record nothing more
// (fenced out); its client's stream used to stop there for good, with neither an end nor an error.
// Now it follows the store from the take-over and delivers the new owner's events until the end.
import { parseServerSentEvents } from '@aifactory/client';
import { expect, it } from 'vitest';
import { createToken, describeOnCourierPostgres, waitFor } from '../fixtures/courier-workspace.ts';

describeOnCourierPostgres(
  'a stream whose server lost the run (real processes, Postgres)',
  { prefix: 't_streamtake', leaseMs: 2000, waitMs: 6000 },
  (courier) => {
    it(
      'keeps delivering the run’s events from the store, as the process that took it over records them, until it completes',
      { timeout: 600_000 },
      async () => {
        const { workspace } = courier;
        const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
        const first = await courier.serve();
        const key = 's-takeover';
        const response = await fetch(`${first.url}/v1/runs`, {
          method: 'POST',
          headers: courier.headers(operator, { accept: 'text/event-stream' }),
          body: JSON.stringify({ agent: 'courier', input: key }),
        });
        expect(response.status).toBe(200);
        const received: Array<{ type: string; name?: string }> = [];
        const streaming = (async () => {
          for await (const message of parseServerSentEvents(response.body!)) {
            received.push(JSON.parse(message.data) as { type: string; name?: string });
            if (received.at(-1)!.type === 'run.completed' || received.at(-1)!.type === 'run.failed') return;
          }
        })();
        await waitFor(() => workspace.calls().some((call) => call.tool === 'wait' && call.key === key), 'the run to be in its wait');
        const runId = await courier.runOf(key);

        // Paused mid-step past its lease; a second server takes the run over and finishes it.
        process.kill(first.pid, 'SIGSTOP');
        try {
          const second = await courier.serve();
          await courier.waitForStatus(runId, 'completed', 'the second server to finish the run', second);
        } finally {
          process.kill(first.pid, 'SIGCONT');
        }
        // The first server wakes up fenced out; the stream goes on from the store to the end.
        await waitFor(() => received.at(-1)?.type === 'run.completed', 'the stream to deliver run.completed', 120_000, 100).catch(
          (error: Error) => {
            throw new Error(
              `${error.message}; it delivered ${received.map((event) => event.type).join(', ')}\n${first.stderr().slice(-3000)}`,
            );
          },
        );
        await streaming;
        const types = received.map((event) => event.type);
        expect(types[0]).toBe('run.started');
        // The write was decided and made by the second server only, and streamed once.
        expect(received.filter((event) => event.type === 'action.decided' && event.name === 'courier.write')).toHaveLength(1);
        expect(courier.writesOf(key)).toHaveLength(1);
        expect(types.filter((type) => type === 'run.completed')).toHaveLength(1);
      },
    );
  },
);
