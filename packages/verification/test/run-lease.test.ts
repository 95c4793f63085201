// Run leases and fencing against real stores: an owner that lost its lease records nothing, a
// take-over waits for the lease to lapse, and writers that are not the owner (votes) still land.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '@aifactory/store';
import { createRecorder, listRuns, readRunEvents, verifyAll, verifyRun, type Recorder } from '../src/index.ts';
import { sql } from '@aifactory/store';
import {
  acquireRunLease,
  findApprovalToApply,
  findDecidedInDoubtRuns,
  findOrphanedRuns,
  findStalledHeldRuns,
  releaseRunLease,
  renewRunLease,
  renewRunLeases,
} from '../src/internal.ts';
import { engines, warnIfNoPostgres } from './engines.ts';

warnIfNoPostgres('verification');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventTypes(store: Store, runId: string): Promise<string[]> {
  const events: string[] = [];
  for await (const event of readRunEvents(store, runId)) events.push(`${event.type}:${event.actor}`);
  return events;
}

for (const engine of engines('t_lease')) {
  describe.skipIf(engine.skip)(`run leases on ${engine.name}`, () => {
    let store: Store;
    let recorder: Recorder;

    beforeAll(async () => {
      store = await engine.open();
      recorder = createRecorder(store);
    });
    afterAll(async () => {
      await engine.dispose(store);
    });

    it('fences out an owner whose lease was taken over: it records nothing and cannot set the status or finish', async () => {
      await recorder.startRun({ id: 'fenced', agent: 'clerk', principal: 'alice' }, { lease: { owner: 'first', ttlMs: 1_000 } });
      await recorder.record('fenced', { type: 'tool.called', actor: 'first', payload: { step: 1, name: 't' } }, { fence: { epoch: 1 } });
      // A live lease cannot be taken over.
      expect(await acquireRunLease(store, 'fenced', 'second', { ttlMs: 5_000 })).toBeUndefined();
      await sleep(1_100);
      const taken = await acquireRunLease(store, 'fenced', 'second', { ttlMs: 5_000, state: 'recovering' });
      expect(taken).toMatchObject({ epoch: 2, owner: 'second' });
      // The first owner wakes up: every fenced write is refused, before anything is written.
      await expect(
        recorder.record('fenced', { type: 'tool.returned', actor: 'first', payload: { step: 1, name: 't' } }, { fence: { epoch: 1 } }),
      ).rejects.toMatchObject({ code: 'LEASE_LOST' });
      await expect(recorder.setStatus('fenced', 'held', { fence: { epoch: 1 } })).rejects.toMatchObject({ code: 'LEASE_LOST' });
      await expect(recorder.finishRun('fenced', { status: 'failed' }, { fence: { epoch: 1 } })).rejects.toMatchObject({
        code: 'LEASE_LOST',
      });
      expect(await renewRunLease(store, 'fenced', { epoch: 1 }, 5_000)).toBeUndefined();
      // Writers that are not the owner (a vote) and the new owner go on.
      await recorder.record('fenced', {
        type: 'approval.voted',
        actor: 'bob',
        payload: { approval_id: 'apr_1', step: 1, approver: 'bob', vote: 'approve' },
      });
      await recorder.record('fenced', { type: 'tool.returned', actor: 'second', payload: { step: 1, name: 't' } }, { fence: { epoch: 2 } });
      await recorder.finishRun('fenced', { status: 'completed' }, { fence: { epoch: 2 } });
      expect(await eventTypes(store, 'fenced')).toEqual([
        'run.started:alice',
        'tool.called:first',
        'approval.voted:bob',
        'tool.returned:second',
        'run.completed:runtime',
      ]);
      expect(await verifyRun(store, 'fenced')).toMatchObject({ ok: true });
      // The refused finish linked no seal (its event, seal and lease hand-back are one statement):
      // the seal after it, the new owner's, links to the chain's real head.
      expect((await verifyAll(store)).sealChain).toMatchObject({ ok: true });
    });

    it("hands a held run's lease back in the commit that holds it: no process that dies afterwards leaves it held", async () => {
      await recorder.startRun({ id: 'parked-at-hold', agent: 'clerk', principal: 'alice' }, { lease: { owner: 'driver', ttlMs: 60_000 } });
      await recorder.record(
        'parked-at-hold',
        { type: 'tool.called', actor: 'driver', payload: { step: 1, name: 't' } },
        { fence: { epoch: 1 } },
      );
      await recorder.setStatus('parked-at-hold', 'held', { fence: { epoch: 1 } });
      // The driver "dies" here, before any release of its own: the lease is free at once all the same.
      const [lease] = await store.query<{ state: string }>(sql`SELECT state FROM run_leases WHERE run_id = 'parked-at-hold'`);
      expect(lease?.state).toBe('released');
      expect(await acquireRunLease(store, 'parked-at-hold', 'next', { ttlMs: 5_000 })).toMatchObject({ epoch: 2 });
    });

    it('appends a decision only right after the trace it was made on; a held run with a decision not applied is found', async () => {
      await recorder.startRun({ id: 'doubt', agent: 'clerk', principal: 'alice' }, { lease: { owner: 'died', ttlMs: 60_000 } });
      await recorder.record(
        'doubt',
        { type: 'tool.called', actor: 'died', payload: { step: 1, call_id: 'c1', name: 'w.write' } },
        { fence: { epoch: 1 } },
      );
      await recorder.record(
        'doubt',
        { type: 'run.held', actor: 'runtime', payload: { step: 1, reason: 'outcome_unknown', name: 'w.write' } },
        { fence: { epoch: 1 } },
      );
      await recorder.setStatus('doubt', 'held', { fence: { epoch: 1 } });
      expect(await findDecidedInDoubtRuns(store, { graceMs: 0 })).not.toContain('doubt');
      const decision = (by: string, resolution: string) => ({
        type: 'action.resolved' as const,
        actor: by,
        payload: { step: 1, call_id: 'c1', name: 'w.write', resolution, by },
      });
      // Two humans decided on the trace up to seq 3; no lease is needed, and only the first is recorded.
      await recorder.record('doubt', decision('bob', 'confirmed'), { after: 3 });
      await expect(recorder.record('doubt', decision('carol', 'failed'), { after: 3 })).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(createRecorder(store).record('doubt', decision('dave', 'retried'), { after: 3 })).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      expect(await eventTypes(store, 'doubt')).toEqual([
        'run.started:alice',
        'tool.called:died',
        'run.held:runtime',
        'action.resolved:bob',
      ]);
      // Held, decided, not applied: found (whatever is recorded after the decision), and no longer once it runs again.
      await recorder.record('doubt', {
        type: 'approval.refused',
        actor: 'runtime',
        payload: { approval_id: 'apr_x', step: 1, reason: 'late' },
      });
      expect(await findDecidedInDoubtRuns(store, { graceMs: 0 })).toContain('doubt');
      expect(await acquireRunLease(store, 'doubt', 'applier', { ttlMs: 5_000 })).toMatchObject({ epoch: 2 });
      expect(await findDecidedInDoubtRuns(store, { graceMs: 0 })).not.toContain('doubt');
      await recorder.setStatus('doubt', 'running', { fence: { epoch: 2 } });
      await releaseRunLease(store, 'doubt', { epoch: 2 });
      expect(await findDecidedInDoubtRuns(store, { graceMs: 0 })).not.toContain('doubt');
    });

    it('commits the other runs of a group commit when one of them is fenced out', async () => {
      const ids = ['group-a', 'group-b', 'group-c'];
      for (const id of ids)
        await recorder.startRun({ id, agent: 'clerk', principal: 'alice' }, { lease: { owner: 'grouped', ttlMs: 60_000 } });
      // group-b changes owner behind the recorder's back (released, then taken).
      await releaseRunLease(store, 'group-b', { epoch: 1 });
      expect(await acquireRunLease(store, 'group-b', 'other', { ttlMs: 60_000 })).toMatchObject({ epoch: 2 });
      const outcomes = await Promise.allSettled(
        ids.map((id) =>
          recorder.record(id, { type: 'tool.called', actor: 'grouped', payload: { step: 1, name: 't' } }, { fence: { epoch: 1 } }),
        ),
      );
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'LEASE_LOST' });
      expect(await eventTypes(store, 'group-b')).toEqual(['run.started:alice']);
      // Heartbeats renew only what this owner still holds.
      expect([...(await renewRunLeases(store, 'grouped', ids, 60_000)).keys()].sort()).toEqual(['group-a', 'group-c']);
    });

    it('finds running runs whose owner is gone, and never a held or ended one', async () => {
      await recorder.startRun({ id: 'orphan', agent: 'clerk', principal: 'alice' }, { lease: { owner: 'gone', ttlMs: 50 } });
      await recorder.startRun({ id: 'alive', agent: 'clerk', principal: 'alice' }, { lease: { owner: 'here', ttlMs: 60_000 } });
      await recorder.startRun({ id: 'parked', agent: 'clerk', principal: 'alice' }, { lease: { owner: 'gone', ttlMs: 50 } });
      await recorder.setStatus('parked', 'held', { fence: { epoch: 1 } });
      await sleep(120);
      const orphaned = (await findOrphanedRuns(store)).map((run) => run.runId);
      expect(orphaned).toContain('orphan');
      expect(orphaned).not.toContain('alive');
      expect(orphaned).not.toContain('parked');
      expect(orphaned).not.toContain('fenced');
    });

    it('lists a run no process has taken yet, or one handed back, as queued; orphaned only once its owner’s lease lapsed', async () => {
      // A run an API server accepted for the workers: recorded, no lease until a worker takes it.
      await recorder.startRun({ id: 'waiting', agent: 'clerk', principal: 'queue-test' });
      await recorder.startRun({ id: 'handed', agent: 'clerk', principal: 'queue-test' }, { lease: { owner: 'leaving', ttlMs: 60_000 } });
      await releaseRunLease(store, 'handed', { epoch: 1 });
      await recorder.startRun({ id: 'dead', agent: 'clerk', principal: 'queue-test' }, { lease: { owner: 'died', ttlMs: 50 } });
      await recorder.startRun({ id: 'driven', agent: 'clerk', principal: 'queue-test' }, { lease: { owner: 'here', ttlMs: 60_000 } });
      await sleep(120);
      const statuses: Record<string, string> = {};
      for await (const run of listRuns(store, { principal: 'queue-test' })) statuses[run.id] = run.status;
      expect(statuses).toEqual({ waiting: 'queued', handed: 'queued', dead: 'orphaned', driven: 'running' });
      const queued: string[] = [];
      for await (const run of listRuns(store, { principal: 'queue-test', status: 'queued' })) queued.push(run.id);
      expect(queued.sort()).toEqual(['handed', 'waiting']);
    });

    it('finds a held run whose resumer consumed its approval and died, even once a second resumer was refused the spent approval', async () => {
      // Resumer A consumed the approval (its row reads consumed) and was killed before recording
      // approval.consumed; resumer B, which had read the approval as approved before that, took the
      // lapsed lease and was refused it (approval.refused is now the run's last event). Nobody else
      // will resume the run: the supervisor must still find it, or it stays held forever.
      await recorder.startRun({ id: 'spent', agent: 'clerk', principal: 'alice' }, { lease: { owner: 'a', ttlMs: 60_000 } });
      const approval = { approval_id: 'apr_spent', step: 2 };
      await recorder.record('spent', { type: 'approval.requested', actor: 'runtime', payload: approval }, { fence: { epoch: 1 } });
      await recorder.record('spent', { type: 'run.held', actor: 'runtime', payload: approval }, { fence: { epoch: 1 } });
      await recorder.setStatus('spent', 'held', { fence: { epoch: 1 } });
      await releaseRunLease(store, 'spent', { epoch: 1 });
      await store.query(
        sql`INSERT INTO approvals (id, run_id, step, action, args_hash, policy_hash, requirement, requested_by, status, outcome, requested_at, decided_at, consumed_at)
            VALUES ('apr_spent', 'spent', 2, '{}'::jsonb, 'h', 'p', '{}'::jsonb, 'runtime', 'consumed', 'approved', now() - interval '1 minute', now() - interval '50 seconds', now() - interval '40 seconds')`,
      );
      await recorder.record('spent', { type: 'approval.granted', actor: 'bob', payload: approval });
      expect((await findStalledHeldRuns(store, { graceMs: 1_000 })).map((run) => run.runId)).toContain('spent');
      await recorder.record('spent', {
        type: 'approval.refused',
        actor: 'runtime',
        payload: { ...approval, stage: 'consume', code: 'APPROVAL_INVALID', reason: "Approval 'apr_spent' was already used." },
      });
      expect(await findStalledHeldRuns(store, { graceMs: 1_000 })).toContainEqual({
        runId: 'spent',
        approvalId: 'apr_spent',
        approvalStatus: 'consumed',
      });
    });

    it('finds a held run by what happened to its approval, not by its last event: the chaos suite’s clerk-12 and the states around it', async () => {
      // Each run is held on its approval (the last run.held names it), its lease released; what
      // differs is the approval's row and what the trace recorded after the hold.
      const held = async (runId: string, approvalStatus: string, after: Array<{ type: string; payload: Record<string, unknown> }>) => {
        await recorder.startRun({ id: runId, agent: 'clerk', principal: 'alice' }, { lease: { owner: 'a', ttlMs: 60_000 } });
        const approval = { approval_id: `apr_${runId}`, step: 4 };
        await recorder.record(runId, { type: 'approval.requested', actor: 'runtime', payload: approval }, { fence: { epoch: 1 } });
        await recorder.record(runId, { type: 'run.held', actor: 'runtime', payload: approval }, { fence: { epoch: 1 } });
        for (const event of after) await recorder.record(runId, { type: event.type as never, actor: 'runtime', payload: event.payload });
        await recorder.setStatus(runId, 'held', { fence: { epoch: 1 } });
        await releaseRunLease(store, runId, { epoch: 1 });
        const consumed = approvalStatus === 'consumed' ? sql`now() - interval '40 seconds'` : sql`null`;
        await store.query(
          sql`INSERT INTO approvals (id, run_id, step, action, args_hash, policy_hash, requirement, requested_by, status, outcome, requested_at, decided_at, consumed_at)
              VALUES (${`apr_${runId}`}, ${runId}, 4, '{}'::jsonb, 'h', 'p', '{}'::jsonb, 'runtime', ${approvalStatus}, 'approved', now() - interval '1 minute', now() - interval '50 seconds', ${consumed})`,
        );
      };
      const decision = {
        type: 'policy.decided',
        payload: { step: 4, action: { kind: 'tool', name: 'write', args: {} }, decision: { authority: 'require_approval', rules: [] } },
      };
      const consumedEvent = { type: 'approval.consumed', payload: { approval_id: 'apr_clerk12b', step: 4, outcome: 'approved' } };
      // clerk-12: recovered after its hold, the run recorded the write's decision again (no second
      // run.held), parked on the approval, and its next resumer consumed it and died before recording so.
      await held('clerk12', 'consumed', [decision]);
      // The same, but that resumer died after recording approval.consumed.
      await held('clerk12b', 'consumed', [decision, consumedEvent]);
      // Parked again on an approval decided meanwhile (nobody resumed it).
      await held('reparked', 'approved', [{ type: 'approval.granted', payload: { approval_id: 'apr_reparked', step: 4 } }, decision]);
      // Went on with its approval (run.resumed names it): never found again on that approval.
      await held('went-on', 'consumed', [{ type: 'run.resumed', payload: { approval_id: 'apr_went-on', step: 4, outcome: 'approved' } }]);
      // Went on, then held for an action in doubt: a human settles that, not an approval.
      await held('in-doubt', 'consumed', [
        { type: 'run.held', payload: { step: 5, reason: 'outcome_unknown', kind: 'tool', name: 'write', intent_seq: 3 } },
      ]);
      // Still waiting for its approver.
      await held('unvoted', 'pending', [decision]);

      const stalled = new Map((await findStalledHeldRuns(store, { graceMs: 1_000 })).map((run) => [run.runId, run]));
      expect(stalled.get('clerk12')).toEqual({ runId: 'clerk12', approvalId: 'apr_clerk12', approvalStatus: 'consumed' });
      expect(stalled.get('clerk12b')).toEqual({ runId: 'clerk12b', approvalId: 'apr_clerk12b', approvalStatus: 'consumed' });
      expect(stalled.get('reparked')).toEqual({ runId: 'reparked', approvalId: 'apr_reparked', approvalStatus: 'approved' });
      for (const runId of ['went-on', 'in-doubt', 'unvoted']) expect(stalled.has(runId), runId).toBe(false);
      // The runtime reads the same rule for the run it took over, and whether the approval's use is in the trace.
      expect(await findApprovalToApply(store, 'clerk12')).toEqual({
        approvalId: 'apr_clerk12',
        approvalStatus: 'consumed',
        consumptionRecorded: false,
      });
      expect(await findApprovalToApply(store, 'clerk12b')).toEqual({
        approvalId: 'apr_clerk12b',
        approvalStatus: 'consumed',
        consumptionRecorded: true,
      });
      for (const runId of ['went-on', 'in-doubt', 'unvoted']) expect(await findApprovalToApply(store, runId), runId).toBeUndefined();
      // A live lease hides a run from the scan (someone drives it), not from its driver's check.
      expect(await acquireRunLease(store, 'clerk12', 'b', { ttlMs: 60_000 })).toMatchObject({ epoch: 2 });
      expect((await findStalledHeldRuns(store, { graceMs: 1_000 })).map((run) => run.runId)).not.toContain('clerk12');
      expect(await findApprovalToApply(store, 'clerk12')).toMatchObject({ approvalId: 'apr_clerk12' });
    });
  });
}
