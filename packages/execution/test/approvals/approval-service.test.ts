import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { ErrorCode, SystemError, UserError, contentHash } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { approvals } from '@aifactory/store/schema';
import { eq } from 'drizzle-orm';
import { createApprovalService, type ApprovalRequest, type ApprovalService } from '../../src/approvals/index.ts';
import { createRedactor } from '@aifactory/verification';
import { engines, memoryRecorder } from './engines.ts';

const refundArgs = { order: 'A-1001', amount: 7200, currency: 'EUR' };

function requestFor(runId: string, requirement: Record<string, unknown>, overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    runId,
    step: 3,
    action: { kind: 'tool', name: 'payments.refund', args: refundArgs },
    policyHash: 'policy-hash-v3',
    requirement,
    requestedBy: 'carol',
    context: { agent: 'refund-clerk', rules: ['large-refunds'] },
    ...overrides,
  };
}

const managers = ['finance-manager'];

/** Expects a promise to fail with a UserError of the given code and a message matching pattern. */
async function expectUserError(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UserError);
  expect((error as UserError).code).toBe(code);
  expect((error as UserError).message).toMatch(pattern);
}

for (const engine of engines) {
  describe.skipIf(engine.skip)(`approvals on ${engine.name}`, () => {
    let store: Store;
    let recorder: ReturnType<typeof memoryRecorder>;
    let service: ApprovalService;
    let clock: Date;
    let runId: string;

    beforeAll(async () => {
      store = await engine.open();
    });
    afterAll(async () => {
      if (store) await engine.dispose(store);
    });
    beforeEach(() => {
      recorder = memoryRecorder();
      clock = new Date('2026-11-23T09:00:00.000Z');
      service = createApprovalService(store, { record: recorder.record, clock: () => clock });
      runId = `run_${randomUUID()}`;
    });

    it('stores and shows masked arguments, context and comments, bound to the hash of the real arguments, and consumes with that hash', async () => {
      const redactor = createRedactor({ key: Buffer.alloc(32, 5) });
      const masking = createApprovalService(store, {
        record: recorder.record,
        clock: () => clock,
        redact: (value) => redactor.redact(value).value,
      });
      const key = `sk-proj-${'Zq7w'.repeat(10)}`;
      const args = { url: `https://api.example.com/?key=${key}`, headers: { authorization: `Bearer ${key}` } };
      const approval = await masking.request(
        requestFor(
          runId,
          { roles: managers, count: 1 },
          { action: { kind: 'tool', name: 'http.post', args }, context: { note: `uses ${key}` } },
        ),
      );
      expect(approval.argsHash).toBe(contentHash(args));
      expect(JSON.stringify(approval)).not.toContain(key);
      expect(JSON.stringify(approval.action.args)).toMatch(/\[REDACTED:openai_key:[0-9a-f]{8}\]/);
      await masking.vote(approval.id, { approver: { id: 'erin', roles: managers }, vote: 'approve', comment: `checked ${key}` });
      const [row] = await store.db.select().from(approvals).where(eq(approvals.id, approval.id));
      expect(JSON.stringify(row)).not.toContain(key);
      expect(JSON.stringify(await masking.list({ runId }))).not.toContain(key);
      // Rows written before masking existed are masked on the way out too.
      const plain = await service.request(
        requestFor(runId, { roles: managers, count: 1 }, { step: 4, action: { kind: 'tool', name: 'http.post', args } }),
      );
      expect(JSON.stringify(plain)).toContain(key);
      expect(JSON.stringify(await masking.get(plain.id))).not.toContain(key);
      const used = await masking.consume(approval.id, { runId, step: 3, argsHash: contentHash(args), policyHash: 'policy-hash-v3' });
      expect(used.outcome).toBe('approved');
      expect(JSON.stringify(used)).not.toContain(key);
    });

    it('opens an approval bound to run, step, argument hash and policy, records it, and lists it as pending', async () => {
      const approval = await service.request(
        requestFor(runId, { roles: managers, count: 1, separation_of_duties: true, on_expiry: 'deny' }),
      );
      expect(approval).toMatchObject({
        runId,
        step: 3,
        argsHash: contentHash(refundArgs),
        policyHash: 'policy-hash-v3',
        status: 'pending',
        outcome: null,
        requestedBy: 'carol',
        expiresAt: null,
      });
      expect(approval.id).toMatch(/^apr_[0-9a-f]{16}$/);
      expect(recorder.of('approval.requested')).toEqual([
        expect.objectContaining({
          runId,
          actor: 'carol',
          payload: expect.objectContaining({
            approval_id: approval.id,
            args_hash: contentHash(refundArgs),
            action: { kind: 'tool', name: 'payments.refund' },
          }),
        }),
      ]);
      const pending = await service.list({ status: 'pending', runId });
      expect(pending.map((item) => item.id)).toEqual([approval.id]);
      expect(pending[0]?.action.args).toEqual(refundArgs);
      // The same call asked again (a node re-run after a crash) gets the same approval, not a second one.
      const again = await service.request(requestFor(runId, { roles: managers, count: 1 }));
      expect(again.id).toBe(approval.id);
      expect(recorder.of('approval.requested')).toHaveLength(1);
    });

    it('lets only holders of a required role vote, and records the refusal', async () => {
      const approval = await service.request(requestFor(runId, { roles: managers, count: 1 }));
      await expectUserError(
        service.vote(approval.id, { approver: { id: 'dave', roles: ['engineer'] }, vote: 'approve' }),
        ErrorCode.Forbidden,
        /dave holds engineer .*needs one of: finance-manager/,
      );
      expect(recorder.of('approval.refused')).toEqual([
        expect.objectContaining({ actor: 'dave', payload: expect.objectContaining({ stage: 'vote', code: 'FORBIDDEN' }) }),
      ]);
      const result = await service.vote(approval.id, {
        approver: { id: 'erin', roles: ['finance-manager'] },
        vote: 'approve',
        comment: 'checked the invoice',
      });
      expect(result.kind).toBe('approved');
      expect(result.approval.status).toBe('approved');
      expect(result.approval.votes).toEqual([
        expect.objectContaining({ approver: 'erin', vote: 'approve', comment: 'checked the invoice' }),
      ]);
      expect(recorder.of('approval.granted')).toEqual([
        expect.objectContaining({ actor: 'erin', payload: expect.objectContaining({ approval_id: approval.id, approvers: ['erin'] }) }),
      ]);
    });

    it('separation of duties: whoever started the run cannot approve its action, but may withdraw it', async () => {
      const guarded = await service.request(requestFor(runId, { roles: managers, count: 1, separation_of_duties: true }));
      await expectUserError(
        service.vote(guarded.id, { approver: { id: 'carol', roles: ['finance-manager'] }, vote: 'approve' }),
        ErrorCode.Forbidden,
        /carol started run .* cannot approve its actions \(separation of duties\)/,
      );
      expect((await service.get(guarded.id)).status).toBe('pending');
      const withdrawn = await service.vote(guarded.id, { approver: { id: 'carol', roles: [] }, vote: 'reject', comment: 'wrong order' });
      expect(withdrawn.kind).toBe('rejected');

      const relaxed = await service.request(requestFor(runId, { roles: managers, count: 1, separation_of_duties: false }, { step: 4 }));
      const self = await service.vote(relaxed.id, { approver: { id: 'carol', roles: ['finance-manager'] }, vote: 'approve' });
      expect(self.kind).toBe('approved');
    });

    it('needs `count` distinct approvers, one vote each', async () => {
      const approval = await service.request(requestFor(runId, { roles: managers, count: 2, separation_of_duties: true }));
      const first = await service.vote(approval.id, { approver: { id: 'erin', roles: managers }, vote: 'approve' });
      expect(first).toMatchObject({ kind: 'counted', remaining: 1 });
      expect(first.approval.status).toBe('pending');
      await expectUserError(
        service.vote(approval.id, { approver: { id: 'erin', roles: managers }, vote: 'approve' }),
        ErrorCode.Conflict,
        /erin already voted approve/,
      );
      const second = await service.vote(approval.id, { approver: { id: 'frank', roles: managers }, vote: 'approve', comment: 'ok' });
      expect(second.kind).toBe('approved');
      expect(recorder.of('approval.voted')).toHaveLength(1);
      expect(recorder.of('approval.granted')[0]?.payload.approvers).toEqual(['erin', 'frank']);
      const consumed = await service.consume(approval.id, {
        runId,
        step: 3,
        argsHash: contentHash(refundArgs),
        policyHash: 'policy-hash-v3',
      });
      expect(consumed).toMatchObject({ outcome: 'approved', approvers: ['erin', 'frank'], comment: 'frank: ok' });
    });

    it('one rejection decides; the run consumes it as a rejection', async () => {
      const approval = await service.request(requestFor(runId, { roles: managers, count: 2 }));
      const rejected = await service.vote(approval.id, {
        approver: { id: 'erin', roles: managers },
        vote: 'reject',
        comment: 'amount too high',
      });
      expect(rejected.kind).toBe('rejected');
      await expectUserError(
        service.vote(approval.id, { approver: { id: 'frank', roles: managers }, vote: 'approve' }),
        ErrorCode.Conflict,
        /already rejected/,
      );
      expect(recorder.of('approval.rejected')).toEqual([
        expect.objectContaining({ payload: expect.objectContaining({ rejected_by: 'erin', comment: 'amount too high' }) }),
      ]);
      const consumed = await service.consume(approval.id, {
        runId,
        step: 3,
        argsHash: contentHash(refundArgs),
        policyHash: 'policy-hash-v3',
      });
      expect(consumed).toMatchObject({ outcome: 'rejected', approvers: ['erin'], comment: 'erin: amount too high' });
    });

    it('expires on read with the on_expiry outcome, recorded once, and refuses late votes', async () => {
      const denied = await service.request(requestFor(runId, { roles: managers, count: 1, expires_in: '15m', on_expiry: 'deny' }));
      clock = new Date('2026-11-23T09:00:01.000Z');
      const approvedOnExpiry = await service.request(
        requestFor(runId, { roles: managers, count: 1, expires_in_ms: 60_000, on_expiry: 'approve' }, { step: 5 }),
      );
      expect(denied.expiresAt?.toISOString()).toBe('2026-11-23T09:15:00.000Z');
      clock = new Date('2026-11-23T09:14:59.000Z');
      expect((await service.list({ runId })).map((item) => item.status)).toEqual(['pending', 'expired']);
      clock = new Date('2026-11-23T09:15:00.000Z');
      const listed = await service.list({ runId });
      expect(listed.map((item) => [item.status, item.outcome])).toEqual([
        ['expired', 'rejected'],
        ['expired', 'approved'],
      ]);
      await service.list({ runId });
      expect(recorder.of('approval.expired').map((event) => [event.payload.approval_id, event.payload.outcome])).toEqual([
        [approvedOnExpiry.id, 'approved'],
        [denied.id, 'rejected'],
      ]);
      await expectUserError(
        service.vote(denied.id, { approver: { id: 'erin', roles: managers }, vote: 'approve' }),
        ErrorCode.Conflict,
        /expired/,
      );
      const late = await service.consume(approvedOnExpiry.id, {
        runId,
        step: 5,
        argsHash: contentHash(refundArgs),
        policyHash: 'policy-hash-v3',
      });
      expect(late).toMatchObject({ outcome: 'approved', approvers: [] });
    });

    it('is single-use and bound to the exact call: another run, step, argument hash or policy is refused and recorded', async () => {
      const approval = await service.request(requestFor(runId, { roles: managers, count: 1 }));
      const binding = { runId, step: 3, argsHash: contentHash(refundArgs), policyHash: 'policy-hash-v3' };
      await expectUserError(service.consume(approval.id, binding), ErrorCode.ApprovalInvalid, /still pending/);
      await service.vote(approval.id, { approver: { id: 'erin', roles: managers }, vote: 'approve' });
      await expectUserError(service.consume(approval.id, { ...binding, runId: 'run_other' }), ErrorCode.ApprovalInvalid, /run 'run_other'/);
      await expectUserError(
        service.consume(approval.id, { ...binding, step: 4 }),
        ErrorCode.ApprovalInvalid,
        /step 4 \(approved for step 3\)/,
      );
      await expectUserError(
        service.consume(approval.id, { ...binding, argsHash: contentHash({ ...refundArgs, amount: 72000 }) }),
        ErrorCode.ApprovalInvalid,
        /arguments hashing to/,
      );
      await expectUserError(
        service.consume(approval.id, { ...binding, policyHash: 'policy-hash-v4' }),
        ErrorCode.ApprovalInvalid,
        /policy policy-hash-/,
      );
      expect(recorder.of('approval.refused').map((event) => event.payload.stage)).toEqual([
        'consume',
        'consume',
        'consume',
        'consume',
        'consume',
      ]);
      const consumed = await service.consume(approval.id, binding);
      expect(consumed.outcome).toBe('approved');
      expect(consumed.approval.status).toBe('consumed');
      await expectUserError(service.consume(approval.id, binding), ErrorCode.ApprovalInvalid, /already used/);
      expect(recorder.of('approval.consumed')).toHaveLength(1);
      await expectUserError(service.consume('apr_0000000000000000', binding), ErrorCode.ApprovalInvalid, /does not exist/);
    });

    it('undoes a change it could not record, so nothing is decided or consumed without its event', async () => {
      const approval = await service.request(requestFor(runId, { roles: managers, count: 1 }));
      recorder.state.failOn = 'approval.granted';
      const failed = await service
        .vote(approval.id, { approver: { id: 'erin', roles: managers }, vote: 'approve' })
        .catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(SystemError);
      expect((failed as SystemError).message).toMatch(/Could not record approval.granted .* the change was undone/);
      const [row] = await store.db.select().from(approvals).where(eq(approvals.id, approval.id));
      expect(row?.status).toBe('pending');
      expect((await service.get(approval.id)).votes).toEqual([]);
      recorder.state.failOn = 'approval.consumed';
      await service.vote(approval.id, { approver: { id: 'erin', roles: managers }, vote: 'approve' });
      const binding = { runId, step: 3, argsHash: contentHash(refundArgs), policyHash: 'policy-hash-v3' };
      await expect(service.consume(approval.id, binding)).rejects.toBeInstanceOf(SystemError);
      expect((await service.get(approval.id)).status).toBe('approved');
      recorder.state.failOn = undefined;
      expect((await service.consume(approval.id, binding)).outcome).toBe('approved');
    });

    it('rejects bad input before touching the store, naming the field', async () => {
      await expectUserError(
        service.request(requestFor(runId, { roles: managers, count: 0 })),
        ErrorCode.InputInvalid,
        /count is 0; use a whole number of at least 1/,
      );
      await expectUserError(
        service.request(requestFor(runId, { roles: managers, on_expiry: 'escalate' })),
        ErrorCode.InputInvalid,
        /on_expiry is "escalate"; use deny or approve/,
      );
      await expectUserError(
        service.request(requestFor(runId, { roles: managers, expires_in: 'soon' })),
        ErrorCode.InputInvalid,
        /expires_in is "soon"/,
      );
      await expectUserError(
        service.request(requestFor('', { roles: managers })),
        ErrorCode.InputInvalid,
        /runId must be a non-empty string/,
      );
      await expectUserError(service.list({ status: 'open' as never }), ErrorCode.InputInvalid, /status 'open' is unknown/);
      await expectUserError(
        service.vote('apr_missing', { approver: { id: 'erin', roles: managers }, vote: 'approve' }),
        ErrorCode.NotFound,
        /does not exist/,
      );
      await expectUserError(
        service.vote('apr_missing', { approver: { id: 'erin', roles: managers }, vote: 'maybe' as never }),
        ErrorCode.InputInvalid,
        /use approve or reject/,
      );
      expect(recorder.events).toEqual([]);
    });
  });
}
