// The supervisor pattern: the front desk hands work to the file clerk. The hand-off is a governed
// action of the parent run, and the clerk's work is a child run of its own, linked to the parent.
// When the clerk's work waits for an approval, the front desk waits with it and goes on after it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eq, inArray } from 'drizzle-orm';
import { runs } from '@aifactory/store/schema';
import { type RunEvent } from '@aifactory/execution';
import { verifyAll } from '@aifactory/verification';
import { renderRunEvent } from '../packages/cli/src/commands/run.ts';
import { demoRuntime as openDemoRuntime } from './fixtures/demo-runtime.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A runtime over a fresh copy of the demo workspace and an in-memory store. */
const demoRuntime = () => openDemoRuntime(cleanups);

describe('hand-offs', () => {
  it('governs the hand-off and runs the other agent as a linked child run', async () => {
    const { store, workspace } = await demoRuntime();
    const events: RunEvent[] = [];
    const result = await workspace.runtime.start('front-desk', 'What is in the shared folder?', {
      principal: { id: 'dana', roles: [] },
      onEvent: (event) => events.push(event),
    });
    expect(result.status).toBe('completed');
    if (result.status !== 'completed') return;
    expect(result.answer).toMatch(/invoice-1042\.txt/);
    expect(
      events.flatMap((event) => (event.type === 'action.decided' && event.kind === 'handoff' ? [`${event.name}:${event.authority}`] : [])),
    ).toEqual(['file-clerk:autonomous']);
    const children = await store.db.select().from(runs).where(eq(runs.parentRunId, result.runId));
    expect(children.map((child) => [child.agent, child.status])).toEqual([['file-clerk', 'completed']]);
    const summary = await verifyAll(store);
    expect(summary.ok).toBe(true);
  });

  it("prints a hold on a hand-off with the child's approvers and hints that name a role that may vote", async () => {
    const { workspace } = await demoRuntime();
    const events: RunEvent[] = [];
    const desk = await workspace.runtime.start('front-desk', 'Please summarise invoice 1042 for finance.', {
      principal: { id: 'dana', roles: [] },
      onEvent: (event) => events.push(event),
    });
    expect(desk.status).toBe('held');
    const held = events.find((event) => event.type === 'run.held' && event.runId === desk.runId);
    expect(held).toMatchObject({ childRunId: expect.stringMatching(/^run_/), approvers: { roles: ['ops-lead'] } });
    let printed = '';
    renderRunEvent(held!, (text) => (printed += text));
    // Pasted as printed, the hint names a role the approval accepts (no "--role required" or refusal).
    const approvalId = (held as { approvalId: string }).approvalId;
    expect(printed).toContain(`approve:   pnpm factory approvals approve ${approvalId} --as "$USER" --role ops-lead\n`);
    expect(printed).toContain(`reject:    pnpm factory approvals reject ${approvalId} --as "$USER" --role ops-lead --comment "why"\n`);
  });

  for (const via of ['child', 'parent'] as const) {
    it(`holds the supervisor while the clerk's write waits for approval; resuming the ${via} run finishes both`, async () => {
      const { demo, store, workspace } = await demoRuntime();
      const principal = { id: 'dana', roles: [] };
      const desk = await workspace.runtime.start('front-desk', 'Please summarise invoice 1042 for finance.', { principal });
      expect(desk.status).toBe('held');
      if (desk.status !== 'held') return;
      // The desk waits on its hand-off; the approval it names is the clerk's, for the write.
      expect([desk.held.kind, desk.held.name]).toEqual(['handoff', 'file-clerk']);
      const approval = await workspace.approvals.get(desk.held.approvalId);
      const [clerk] = await store.db.select().from(runs).where(eq(runs.parentRunId, desk.runId));
      expect(approval.runId).toBe(clerk!.id);
      expect(approval.action.name).toBe('fs.write_file');
      expect([clerk!.status, (await store.db.select().from(runs).where(eq(runs.id, desk.runId)))[0]!.status]).toEqual(['held', 'held']);
      // The requester of the desk run is the requester of the clerk's too: dana cannot approve.
      await expect(
        workspace.approvals.vote(approval.id, { approver: { id: 'dana', roles: ['ops-lead'] }, vote: 'approve' }),
      ).rejects.toThrow();
      await workspace.approvals.vote(approval.id, { approver: { id: 'bob', roles: ['ops-lead'] }, vote: 'approve' });

      const events: RunEvent[] = [];
      const resumed = await workspace.runtime.resume(via === 'child' ? clerk!.id : desk.runId, {
        approvalId: approval.id,
        onEvent: (event) => events.push(event),
      });
      expect(resumed.status).toBe('completed');
      expect(resumed.runId).toBe(via === 'child' ? clerk!.id : desk.runId);
      const ended = await store.db
        .select()
        .from(runs)
        .where(inArray(runs.id, [desk.runId, clerk!.id]));
      expect(ended.map((run) => run.status)).toEqual(['completed', 'completed']);
      const deskAnswer = events.find((event) => event.type === 'run.completed' && event.runId === desk.runId);
      expect(deskAnswer?.type === 'run.completed' && deskAnswer.answer).toMatch(/The file clerk reports:[\s\S]*1006\.74 EUR/);
      expect(readFileSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md'), 'utf8')).toMatch(/Invoice 1042/);
      // The approval worked once, whichever run it is given to.
      await expect(workspace.runtime.resume(desk.runId, { approvalId: approval.id })).rejects.toThrow(/not waiting/);
      const summary = await verifyAll(store);
      expect(summary.ok).toBe(true);
    });
  }
});
