// Two approvers approving at the same moment, through two store connections, decide an approval
// exactly once, and two resumers racing to use it succeed exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { ErrorCode, contentHash, type UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { createApprovalService, type ApprovalService } from '../../src/approvals/index.ts';
import { engines, memoryRecorder } from './engines.ts';

const rounds = 8;
const args = { path: '/reports/q3.xlsx', mode: 'overwrite' };
const roles = ['data-steward'];

for (const engine of engines) {
  describe.skipIf(engine.skip)(`approvals under concurrency on ${engine.name}`, () => {
    let first: Store;
    let second: Store;
    const recorder = memoryRecorder();
    let alice: ApprovalService;
    let bob: ApprovalService;

    beforeAll(async () => {
      first = await engine.open();
      second = await engine.reopen(first);
      // Two services on two connections (one shared connection on PGlite), one trace.
      alice = createApprovalService(first, { record: recorder.record });
      bob = createApprovalService(second, { record: recorder.record });
    });
    afterAll(async () => {
      if (second && second !== first) await second.close();
      if (first) await engine.dispose(first);
    });

    async function settle<T>(promises: Array<Promise<T>>) {
      const results = await Promise.allSettled(promises);
      return {
        fulfilled: results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
        rejected: results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : [])),
      };
    }

    it('two simultaneous approvals of a one-approver action: one decides, the other is told it is already approved', async () => {
      for (let round = 0; round < rounds; round += 1) {
        const runId = `run_${randomUUID()}`;
        const approval = await alice.request({
          runId,
          step: 1,
          action: { kind: 'tool', name: 'fs.write', args },
          policyHash: 'p1',
          requirement: { roles, count: 1 },
          requestedBy: 'carol',
        });
        const votes = await settle([
          alice.vote(approval.id, { approver: { id: 'alice', roles }, vote: 'approve' }),
          bob.vote(approval.id, { approver: { id: 'bob', roles }, vote: 'approve' }),
        ]);
        expect(votes.fulfilled.map((result) => result.kind)).toEqual(['approved']);
        expect(votes.rejected).toHaveLength(1);
        expect((votes.rejected[0] as UserError).code).toBe(ErrorCode.Conflict);
        expect(recorder.events.filter((event) => event.runId === runId && event.type === 'approval.granted')).toHaveLength(1);

        const binding = { runId, step: 1, argsHash: contentHash(args), policyHash: 'p1' };
        const uses = await settle([alice.consume(approval.id, binding), bob.consume(approval.id, binding)]);
        expect(uses.fulfilled.map((result) => result.outcome)).toEqual(['approved']);
        expect(uses.rejected).toHaveLength(1);
        expect((uses.rejected[0] as UserError).code).toBe(ErrorCode.ApprovalInvalid);
        expect(recorder.events.filter((event) => event.runId === runId && event.type === 'approval.consumed')).toHaveLength(1);
      }
    });

    it('two simultaneous approvals of a two-approver action: both count, exactly one completes it', async () => {
      for (let round = 0; round < rounds; round += 1) {
        const runId = `run_${randomUUID()}`;
        const approval = await alice.request({
          runId,
          step: 2,
          action: { kind: 'tool', name: 'fs.write', args },
          policyHash: 'p1',
          requirement: { roles, count: 2 },
          requestedBy: 'carol',
        });
        const votes = await settle([
          alice.vote(approval.id, { approver: { id: 'alice', roles }, vote: 'approve' }),
          bob.vote(approval.id, { approver: { id: 'bob', roles }, vote: 'approve' }),
        ]);
        expect(votes.rejected).toEqual([]);
        expect(votes.fulfilled.map((result) => result.kind).sort()).toEqual(['approved', 'counted']);
        const granted = recorder.events.filter((event) => event.runId === runId && event.type === 'approval.granted');
        expect(granted).toHaveLength(1);
        expect([...(granted[0]?.payload.approvers as string[])].sort()).toEqual(['alice', 'bob']);
      }
    });
  });
}
