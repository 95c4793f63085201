// Time a run spends waiting for a human is not time it works: the file clerk's max_duration (2m)
// counts only the time it runs, so an approval given an hour later (within the approval's own
// expiry, the deadline `approvals list` shows) lets the run finish. The test moves the system
// clock (Date only; timers stay real), as a person approving later would.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStore } from '@aifactory/store';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function clerkWithClock() {
  const demo = prepareDemoWorkspace();
  cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
  const store = await openStore();
  cleanups.push(() => store.close());
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  cleanups.push(() => void vi.useRealTimers());
  const workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
  cleanups.push(() => workspace.close());
  return { workspace, advance: (ms: number) => void vi.setSystemTime(Date.now() + ms) };
}

describe('time held for approval and run limits', () => {
  it('an approval 50 minutes later resumes the run to completion: held time does not count against max_duration (2m)', async () => {
    const { workspace, advance } = await clerkWithClock();
    const started = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042 for finance and archive the original.', {
      principal: { id: 'alice', roles: ['clerk'] },
    });
    expect(started.status).toBe('held');
    if (started.status !== 'held') return;
    const approval = await workspace.approvals.get(started.held.approvalId);
    // The approval's own expiry (1h in the policy) is the deadline an approver sees.
    expect(approval.expiresAt!.getTime() - approval.requestedAt.getTime()).toBe(3_600_000);
    advance(50 * 60_000);
    await workspace.approvals.vote(started.held.approvalId, { approver: { id: 'bob', roles: ['ops-lead'] }, vote: 'approve' });
    const finished = await workspace.runtime.resume(started.runId, { approvalId: started.held.approvalId });
    expect(finished.status === 'failed' ? finished.error : finished.status).toBe('completed');
  }, 180_000);

  it('time spent working still counts: a run that works past max_duration stops', async () => {
    const { workspace, advance } = await clerkWithClock();
    const started = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042 for finance and archive the original.', {
      principal: { id: 'alice', roles: ['clerk'] },
    });
    expect(started.status).toBe('held');
    if (started.status !== 'held') return;
    await workspace.approvals.vote(started.held.approvalId, { approver: { id: 'bob', roles: ['ops-lead'] }, vote: 'approve' });
    // Not held any more in the run's view once resumed: jump the clock mid-run through the event stream.
    let jumped = false;
    const finished = await workspace.runtime.resume(started.runId, {
      approvalId: started.held.approvalId,
      onEvent: (event) => {
        if (!jumped && event.type === 'tool.returned') {
          jumped = true;
          advance(3 * 60_000);
        }
      },
    });
    expect(finished.status).toBe('failed');
    if (finished.status === 'failed') expect(finished.error).toMatch(/max_duration/);
  }, 180_000);
});
