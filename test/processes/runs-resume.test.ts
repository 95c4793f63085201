// `factory runs resume` as a user runs it after a crash: the approval was decided, but the process
// that decided it died before resuming the run. A later `runs resume` (a new process) must carry
// the run to its end, executing the approved tool exactly once (counted at the tool).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, storeOptionsFromEnv } from '@aifactory/store';
import { createApprovalService } from '@aifactory/execution/approvals';
import { createTallyWorkspace, factory, type TallyWorkspace } from '../fixtures/tally-workspace.ts';

describe('factory runs resume', () => {
  let workspace: TallyWorkspace;
  beforeAll(() => {
    workspace = createTallyWorkspace();
  });
  afterAll(() => workspace?.remove());

  it('resumes a run whose approval was decided by a process that died before resuming it', { timeout: 900_000 }, async () => {
    const started = await factory(workspace, ['run', 'tally-clerk', '-i', 'entry', '--as', 'alice@acme.example', '--json']);
    expect(started.code, started.stderr).toBe(0);
    const held = JSON.parse(started.stdout) as {
      runId: string;
      status: string;
      approvalId?: string;
      events: Array<{ type: string; approvalId?: string }>;
    };
    expect(held.status).toBe('held');
    const approvalId = held.events.find((event) => event.type === 'run.held')!.approvalId!;

    // The vote is counted and decides the approval; the process that cast it is gone before it resumes.
    const store = await openStore(storeOptionsFromEnv(workspace.env(), workspace.dir));
    try {
      const decided = await createApprovalService(store, { record: async () => {} }).vote(approvalId, {
        approver: { id: 'bob@acme.example', roles: ['ops-lead'] },
        vote: 'approve',
      });
      expect(decided.kind).toBe('approved');
    } finally {
      await store.close();
    }
    expect(workspace.calls().filter((call) => call.tool === 'write')).toHaveLength(0);

    const resumed = await factory(workspace, ['runs', 'resume', held.runId, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ runId: held.runId, status: 'completed' });
    expect(workspace.calls().filter((call) => call.tool === 'write')).toHaveLength(1);

    const verified = await factory(workspace, ['runs', 'verify', held.runId]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    // Resuming again finds nothing to apply and says so; the tool is not called again.
    const again = await factory(workspace, ['runs', 'resume', held.runId]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/no decided approval waiting/);
    expect(workspace.calls().filter((call) => call.tool === 'write')).toHaveLength(1);
  });
});
