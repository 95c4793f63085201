// The approvals and notifications commands, run in-process against a real embedded store.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { openStore, type Store } from '@aifactory/store';
import { createApprovalService } from '@aifactory/execution/approvals';
import { enqueueNotification } from '@aifactory/execution/notifications';
import { voteAndResume } from '@aifactory/workspace';
import { registerApprovalsCommands } from '../src/commands/approvals.ts';
import { registerNotificationsCommands } from '../src/commands/notifications.ts';
import { runProgram } from './run-program.ts';

interface RecordedEvent {
  runId: string;
  type: string;
  actor: string;
}

describe('factory approvals and factory notifications', () => {
  let store: Store;
  const events: RecordedEvent[] = [];
  const record = async (runId: string, event: { type: string; actor: string }) =>
    void events.push({ runId, type: event.type, actor: event.actor });
  // The runs a decided vote resumed (the runtime's part is tested with real runs in test/ and the server tests).
  const resumed: Array<[string, string]> = [];
  const runtime = {
    resume: async (runId: string, options: { approvalId: string }) => (
      resumed.push([runId, options.approvalId]),
      { runId, status: 'completed' as const, answer: 'done' }
    ),
  };

  beforeAll(async () => {
    store = await openStore();
  });
  afterAll(async () => {
    await store?.close();
  });
  afterEach(() => {
    process.exitCode = 0;
    vi.restoreAllMocks();
  });

  /** Runs `factory <args>` in-process; returns stdout, stderr and the exit code. */
  async function factory(...args: string[]) {
    const program = new Command('factory').exitOverride();
    // Each command closes the store it opened; here they share one in-memory store.
    const openShared = async () => ({ ...store, close: async () => {} });
    registerApprovalsCommands(program, {
      openStore: openShared,
      recorder: () => record,
      openWorkspace: async (open) => ({
        voteAndResume: (request) => voteAndResume({ approvals: createApprovalService(open, { record }), runtime }, request),
        close: async () => {},
      }),
    });
    registerNotificationsCommands(program, { openStore: openShared });
    return runProgram(program, args);
  }

  it("lists pending approvals, refuses the run's own principal, and approves with a role and a comment", async () => {
    const service = createApprovalService(store, { record });
    const approval = await service.request({
      runId: 'run_cli',
      step: 2,
      action: { kind: 'tool', name: 'fs.write_file', args: { path: 'notes/q3.md' } },
      policyHash: 'policy-1',
      requirement: { roles: ['editor'], count: 1, separation_of_duties: true, on_expiry: 'deny' },
      requestedBy: 'carol',
    });

    const listed = await factory('approvals', 'list', '--json');
    expect(listed.exitCode).toBe(0);
    expect(JSON.parse(listed.stdout).approvals.map((item: { id: string; status: string }) => [item.id, item.status])).toEqual([
      [approval.id, 'pending'],
    ]);
    const text = await factory('approvals', 'list');
    expect(text.stdout).toContain(`${approval.id}`);
    // The hint pastes as printed: a shell variable, not a placeholder, and the role the rule asks for.
    expect(text.stdout).toContain(`factory approvals approve ${approval.id} --as "$USER" --role editor --comment "ok"`);

    const self = await factory('approvals', 'approve', approval.id, '--as', 'carol', '--role', 'editor');
    expect(self.exitCode).toBe(2);
    expect(self.stderr).toMatch(/carol started run 'run_cli' and cannot approve its actions \(separation of duties\)/);

    const approved = await factory(
      'approvals',
      'approve',
      approval.id,
      '--as',
      'erin',
      '--role',
      'editor',
      '--comment',
      'looks right',
      '--json',
    );
    expect(approved.exitCode).toBe(0);
    // With --json a decided vote prints two documents: the vote, then the resumed run.
    const [voted, run] = approved.stdout
      .split(/^}\n/m)
      .filter(Boolean)
      .map((document) => JSON.parse(`${document}}`));
    expect(voted).toMatchObject({ ok: true, result: 'approved', approval: { id: approval.id, status: 'approved' } });
    expect(run).toMatchObject({ runId: 'run_cli', status: 'completed', events: [] });
    expect(resumed).toEqual([['run_cli', approval.id]]);
    expect(events.filter((event) => event.runId === 'run_cli').map((event) => event.type)).toEqual([
      'approval.requested',
      'approval.refused',
      'approval.granted',
    ]);

    const shown = await factory('approvals', 'show', approval.id);
    expect(shown.stdout).toMatch(/vote {7}erin approved at .*: looks right/);
    expect((await factory('approvals', 'list')).stdout).toBe('No pending approvals.\n');
  });

  it('names the problem and exits 2 on bad input', async () => {
    const unknownStatus = await factory('approvals', 'list', '--status', 'open');
    expect(unknownStatus.exitCode).toBe(2);
    expect(unknownStatus.stderr).toMatch(/--status 'open' is unknown; use one of pending, approved, rejected, expired, consumed or all/);
    const missing = await factory('approvals', 'reject', 'apr_nope', '--as', 'erin', '--comment', 'no', '--json');
    expect(missing.exitCode).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('reads the inbox, lists unread items and marks them read', async () => {
    const first = await enqueueNotification(store, {
      runId: 'run_inbox',
      target: 'inbox:approvers',
      payload: { message: 'fs.write_file held for approval' },
    });
    const second = await enqueueNotification(store, {
      runId: 'run_inbox',
      target: 'inbox:approvers',
      payload: { message: 'refund approved' },
    });
    await enqueueNotification(store, {
      runId: 'run_inbox',
      target: 'webhook:https://user:pw@hooks.example.com/in?token=secret',
      payload: {},
    });

    const unread = await factory('notifications', 'list', '--unread', '--json');
    expect(JSON.parse(unread.stdout).notifications.map((item: { id: number }) => item.id)).toEqual([second.id, first.id]);
    const text = await factory('notifications', 'list', '--all');
    expect(text.stdout).toContain('fs.write_file held for approval');
    expect(text.stdout).toContain('webhook:https://hooks.example.com/in (credentials and query hidden)');
    expect(text.stdout).not.toContain('secret');

    const read = await factory('notifications', 'read', String(first.id));
    expect(read.stdout).toBe(`Marked 1 notification(s) read: ${first.id}.\n`);
    const after = await factory('notifications', 'list', '--unread', '--json');
    expect(JSON.parse(after.stdout).notifications.map((item: { id: number }) => item.id)).toEqual([second.id]);
    const bad = await factory('notifications', 'read');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/Name the notification ids to mark read, or pass --all/);
  });
});
