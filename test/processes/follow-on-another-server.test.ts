// Following a run through an API server that neither accepted nor drives it (real processes,
// Postgres): two `factory serve --queue` behind one load balancer and a worker. A client that
// started a run on one server reconnects to the other (a load balancer does that): GET
// /v1/runs/{id}/events there follows the run from the store, across its hold, to its end, numbered
// as the accepting server numbered it, so Last-Event-ID resumes in the right place. It used to
// answer one run.status event and stop.
import { parseServerSentEvents } from '@aifactory/client';
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { createToken, describeOnCourierPostgres, waitFor } from '../fixtures/courier-workspace.ts';

interface Received {
  id: number;
  type: string;
  name?: string;
}

/** Reads an event stream into `into` until `until` says it is done (or the stream ends). */
async function readStream(response: Response, into: Received[], until: (event: Received) => boolean): Promise<void> {
  for await (const message of parseServerSentEvents(response.body!)) {
    const event = { id: Number(message.id), ...(JSON.parse(message.data) as { type: string; name?: string }) };
    into.push(event);
    if (until(event)) return;
  }
}

describeOnCourierPostgres(
  'a run followed through another API server (real processes, Postgres)',
  { prefix: 't_followother', leaseMs: 10_000 },
  (courier) => {
    it(
      'streams the run a worker drives from the store, across its hold, to run.completed, numbered as the accepting server numbered it; Last-Event-ID resumes there',
      { timeout: 600_000 },
      async () => {
        const { workspace } = courier;
        const [operator, approver] = await Promise.all([
          createToken(workspace, 'alice@acme.example', ['operator']),
          createToken(workspace, 'bob@acme.example', ['approver', 'ops-lead']),
        ]);
        const [east, west] = await Promise.all([courier.serve(['--queue']), courier.serve(['--queue'])]);
        await courier.worker();
        const key = `h-follow-${randomBytes(3).toString('hex')}`;

        // Started on east, streamed there until it is held.
        const started = await fetch(`${east.url}/v1/runs`, {
          method: 'POST',
          headers: courier.headers(operator, { accept: 'text/event-stream' }),
          body: JSON.stringify({ agent: 'courier', input: key }),
        });
        expect(started.status).toBe(200);
        const onEast: Received[] = [];
        await readStream(started, onEast, (event) => event.type === 'run.held');
        const runId = await courier.runOf(key);
        expect(onEast.map((event) => event.type)).toContain('run.held');

        // The client reconnects to west: the whole stream so far, then on across the hold.
        const followed = await fetch(`${west.url}/v1/runs/${runId}/events`, { headers: courier.headers(operator) });
        expect(followed.status).toBe(200);
        const onWest: Received[] = [];
        const following = readStream(followed, onWest, (event) => event.type === 'run.completed' || event.type === 'run.failed');
        await waitFor(() => onWest.some((event) => event.type === 'run.held'), 'west to stream the hold', 60_000);
        // What west streamed up to the hold is what east streamed, event for event and id for id.
        expect(onWest.slice(0, onEast.length).map(({ id, type, name }) => ({ id, type, name }))).toEqual(
          onEast.map(({ id, type, name }) => ({ id, type, name })),
        );
        // A reconnect with Last-Event-ID gets only what came after it.
        const resumed = await fetch(`${west.url}/v1/runs/${runId}/events`, {
          headers: courier.headers(operator, { 'last-event-id': String(onEast.length - 1) }),
        });
        const afterResume: Received[] = [];
        const resuming = readStream(resumed, afterResume, (event) => event.type === 'run.completed' || event.type === 'run.failed');

        const approvalId = (onEast.find((event) => event.type === 'run.held') as unknown as { approvalId: string }).approvalId;
        const vote = await fetch(`${east.url}/v1/approvals/${approvalId}/approve`, {
          method: 'POST',
          headers: courier.headers(approver),
          body: JSON.stringify({ comment: 'ok' }),
        });
        expect(vote.status, await vote.clone().text()).toBe(200);
        await Promise.all([following, resuming]);

        const types = onWest.map((event) => event.type);
        expect(types[0]).toBe('run.started');
        expect(types).toContain('approval.applied');
        expect(onWest.filter((event) => event.type === 'action.decided' && event.name === 'courier.write')).toHaveLength(1);
        expect(types.at(-1)).toBe('run.completed');
        expect(types.filter((type) => type === 'run.completed')).toHaveLength(1);
        expect(onWest.map((event) => event.id)).toEqual(onWest.map((_, index) => index + 1));
        // The resumed stream starts right after the id it was given and ends alike.
        expect(afterResume.map((event) => event.id)).toEqual(onWest.slice(onEast.length - 1).map((event) => event.id));
        expect(courier.writesOf(key)).toHaveLength(1);

        // Once the run has ended, a server that did not drive it says how it ended.
        const after = await fetch(`${west.url}/v1/runs/${runId}/events`, { headers: courier.headers(operator) });
        expect(await after.text()).toContain('"type":"run.status","runId":"' + runId + '","status":"completed"');
      },
    );
  },
);
