// A policy's notify obligation is carried out by the gate whatever the authority: a denial or a
// hold a policy asks to be told of is told, in the outbox and in the trace, as a notice is.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@aifactory/store';
import { compilePolicies, parsePolicy } from '@aifactory/control';
import { GovernedSession, RunOwnership, listNotifications, notificationMessage, type RunEvent } from '@aifactory/execution';
import { createWorkspaceRuntime, runtimeRecorder } from '@aifactory/workspace';
import { readRunEvents } from '@aifactory/verification';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';
import { demoRuntime } from './fixtures/demo-runtime.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('notify obligations', () => {
  it('queues the notify targets of a deny rule and of a hold rule, and records each as notification.queued', async () => {
    const demo = prepareDemoWorkspace();
    cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
    const policyFile = path.join(demo.root, 'policies', 'file-clerk', 'policy.yaml');
    const source = readFileSync(policyFile, 'utf8');
    const told = source
      .replace(
        '      reason: Originals are archived by records management, never by an agent.\n',
        '      reason: Originals are archived by records management, never by an agent.\n      notify: [inbox:records]\n',
      )
      .replace(
        '      reason: Anything the agent writes is checked by an operations lead first.\n',
        '      reason: Anything the agent writes is checked by an operations lead first.\n      notify: [inbox:ops]\n',
      );
    expect(told.match(/notify: \[inbox:(records|ops)\]/g)).toHaveLength(2);
    writeFileSync(policyFile, told);
    const store = await openStore();
    cleanups.push(() => store.close());
    const workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
    cleanups.push(() => workspace.close());

    const events: RunEvent[] = [];
    const held = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042 for finance and archive the original.', {
      principal: { id: 'alice', roles: [] },
      onEvent: (event) => events.push(event),
    });
    expect(held.status).toBe('held');
    if (held.status !== 'held') return;
    // The hold told the operations inbox, before anyone voted.
    const ops = await listNotifications(store, { inbox: 'ops' });
    expect(ops).toHaveLength(1);
    expect(ops[0]!.payload).toMatchObject({
      action: { kind: 'tool', name: 'fs.write_file' },
      authority: 'require_approval',
      rules: ['file-clerk/writes-need-an-ops-lead'],
      agent: 'file-clerk',
    });
    expect(notificationMessage(ops[0]!).subject).toBe('Agent file-clerk waits for approval to run tool fs.write_file');

    await workspace.approvals.vote(held.held.approvalId, { approver: { id: 'bob', roles: ['ops-lead'] }, vote: 'approve' });
    expect(
      (await workspace.runtime.resume(held.runId, { approvalId: held.held.approvalId, onEvent: (event) => events.push(event) })).status,
    ).toBe('completed');

    // The denied move told records management; nothing was moved.
    const records = await listNotifications(store, { inbox: 'records' });
    expect(records).toHaveLength(1);
    expect(records[0]!.runId).toBe(held.runId);
    expect(records[0]!.payload).toMatchObject({
      action: { kind: 'tool', name: 'fs.move_file' },
      authority: 'deny',
      rules: ['file-clerk/originals-stay'],
      reason: expect.stringMatching(/records management/),
    });
    expect(notificationMessage(records[0]!).subject).toBe('Agent file-clerk was denied tool fs.move_file');
    expect(events.filter((event) => event.type === 'notification.queued').map((event) => (event as { targets: string[] }).targets)).toEqual(
      [['inbox:finance'], ['inbox:ops'], ['inbox:records']],
    );

    // The trace says so, after each decision it follows.
    const trace: Array<{ type: string; payload: unknown }> = [];
    for await (const event of readRunEvents(store, held.runId))
      trace.push({ type: event.type, payload: event.payloadText === null ? null : JSON.parse(event.payloadText) });
    const queued = trace
      .filter((event) => event.type === 'notification.queued')
      .map((event) => (event.payload as { targets: string[] }).targets);
    expect(queued).toEqual([['inbox:finance'], ['inbox:ops'], ['inbox:records']]);
    const deniedAt = trace.findIndex((event) => event.type === 'policy.decided' && JSON.stringify(event.payload).includes('fs.move_file'));
    expect(
      trace
        .slice(deniedAt)
        .some((event) => event.type === 'notification.queued' && JSON.stringify(event.payload).includes('inbox:records')),
    ).toBe(true);
  });

  it('queues them for an action proposed from outside too (the MCP proxy and the LangChain middleware take this path)', async () => {
    const { store, workspace } = await demoRuntime(cleanups);
    const policies = compilePolicies([
      parsePolicy(
        `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: { name: proxied, version: 1, owner: risk@acme.example }
spec:
  default: autonomous
  rules:
    - id: no-deletes
      match: { kind: tool, name: "fs.delete_file" }
      authority: deny
      reason: Files are never deleted by an agent.
      notify: [inbox:records]
`,
        'proxied.yaml',
      ),
    ]);
    const session = await GovernedSession.open({
      recorder: runtimeRecorder(workspace.recorder),
      approvals: workspace.approvals,
      notify: workspace.notify,
      ownership: new RunOwnership({ store }),
      policies: () => policies,
      store,
      agent: { id: 'mcp:fs' },
      principal: { id: 'alice', roles: [] },
    });
    let executed = false;
    const outcome = await session.act(
      { kind: 'tool', name: 'fs.delete_file', args: { path: 'invoice-1042.pdf' } },
      {
        intent: (args, step) => ({ type: 'tool.called', actor: 'mcp:fs', payload: { step, tool: 'fs.delete_file', args } }),
        execute: async () => {
          executed = true;
          return 'deleted';
        },
        returned: (value, step) => ({ type: 'tool.returned', actor: 'mcp:fs', payload: { step, result: value } }),
        failed: (_error, step) => ({ type: 'tool.failed', actor: 'mcp:fs', payload: { step, error: 'failed' } }),
      },
    );
    expect(outcome.kind).toBe('denied');
    expect(executed).toBe(false);
    await session.finish();

    const records = await listNotifications(store, { inbox: 'records' });
    expect(records).toHaveLength(1);
    expect(records[0]!.runId).toBe(session.runId);
    expect(records[0]!.payload).toMatchObject({ action: { kind: 'tool', name: 'fs.delete_file' }, authority: 'deny', agent: 'mcp:fs' });
    const types: string[] = [];
    for await (const event of readRunEvents(store, session.runId)) types.push(event.type);
    expect(types.slice(types.indexOf('policy.decided'))).toContain('notification.queued');
  });
});
