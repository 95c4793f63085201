// Replay, what-if and impact end to end: the file-clerk agent (scripted model, the real MCP
// filesystem server) runs under its policy with an approval, then is replayed from the trace —
// identical — and replayed again after its prompt or policy is perturbed in the temp copy.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { compilePolicies, loadPolicyFiles } from '@aifactory/control';
import { createWorkspaceRuntime, type WorkspaceRuntime } from '@aifactory/workspace';
import { loadRecordedRun, policyImpact, replayRun, whatIf } from '../packages/execution/src/replay/index.ts';
import { readRunEvents, verifyRun } from '@aifactory/verification';
import { prepareDemoWorkspace, type DemoWorkspace } from '../examples/demo/demo-workspace.ts';

describe('replay of a recorded governed run', () => {
  let demo: DemoWorkspace;
  let store: Store;
  let workspace: WorkspaceRuntime;
  let heldRunId: string;
  let listRunId: string;

  beforeAll(async () => {
    demo = prepareDemoWorkspace();
    store = await openStore();
    workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
    const started = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042 for finance and archive the original.', {
      principal: { id: 'alice@acme.example', roles: ['clerk'] },
    });
    if (started.status !== 'held') throw new Error(`expected a held run, got ${started.status}`);
    await workspace.approvals.vote(started.held.approvalId, { approver: { id: 'bob@acme.example', roles: ['ops-lead'] }, vote: 'approve' });
    const finished = await workspace.runtime.resume(started.runId, { approvalId: started.held.approvalId });
    expect(finished.status).toBe('completed');
    heldRunId = started.runId;
    const listed = await workspace.runtime.start('file-clerk', 'What files are in the folder?', {
      principal: { id: 'carol@acme.example', roles: ['clerk'] },
    });
    expect(listed.status).toBe('completed');
    listRunId = listed.runId;
  }, 60_000);

  afterAll(async () => {
    await workspace?.close();
    await store?.close();
    rmSync(demo.root, { recursive: true, force: true });
  });

  it('replays a run with an approval identical, calling no model and running no tool, and records the replay linked to it', async () => {
    const before = readFileSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md'), 'utf8');
    rmSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md'));
    const report = await replayRun(store, { runId: heldRunId, recorder: workspace.recorder });
    expect(report.divergence).toBeNull();
    expect(report.outcome).toBe('identical');
    expect(report.steps).toBe(10);
    expect(report.policies.source).toBe('recorded');
    expect(report.agent.definitionHash).toBe(report.agent.recordedDefinitionHash);
    // The write the recorded run made (after approval) is not made again.
    expect(() => readFileSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md'), 'utf8')).toThrow();
    writeFileSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md'), before);

    const replay = await loadRecordedRun(store, report.replayRunId!);
    expect(replay.replayOf).toBe(heldRunId);
    expect(replay.status).toBe('completed');
    const types: string[] = [];
    for await (const event of readRunEvents(store, report.replayRunId!)) types.push(event.type);
    expect(types.filter((type) => type === 'policy.decided')).toHaveLength(10);
    expect(types).toContain('run.resumed');
    expect((await verifyRun(store, report.replayRunId!)).ok).toBe(true);
  });

  it('replays a run without approvals identical', async () => {
    const report = await replayRun(store, { runId: listRunId });
    expect(report.outcome).toBe('identical');
    expect(report.replayRunId).toBeNull();
  });

  it('catches a perturbed prompt at the first model step and says the prompt changed', async () => {
    const file = path.join(demo.agentsDir, 'file-clerk.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('Never delete anything.', 'Never delete anything, and be brief.'));
    try {
      const report = await replayRun(store, { runId: heldRunId });
      expect(report.outcome).toBe('diverged');
      expect(report.divergence?.step).toBe(1);
      expect(report.divergence?.differences[0]?.path).toBe('(model request hash)');
      expect(report.divergence?.reason).toMatch(/system prompt changed/);
      expect(report.notes.join('\n')).toMatch(/agent definition changed/);
      expect(report.notes.join('\n')).toMatch(/system prompt changed/);
    } finally {
      writeFileSync(file, original);
    }
  });

  it('says plainly when the agent cannot be rebuilt', async () => {
    const file = path.join(demo.agentsDir, 'file-clerk.yaml');
    const original = readFileSync(file, 'utf8');
    rmSync(file);
    try {
      const report = await replayRun(store, { runId: heldRunId });
      expect(report.outcome).toBe('unavailable');
      expect(report.notes.join('\n')).toMatch(/agent file .* is gone/);
    } finally {
      writeFileSync(file, original);
    }
  });

  it('what-if lists the decisions another policy would change and stops where the path changes', async () => {
    const file = path.join(demo.root, 'policies', 'file-clerk', 'policy.yaml');
    const stricter = path.join(demo.root, 'stricter.yaml');
    writeFileSync(
      stricter,
      readFileSync(file, 'utf8')
        .replace('version: 1', 'version: 2')
        .replace('authority: notify_human', 'authority: require_approval\n      approvers: { roles: [finance-lead] }'),
    );
    const policies = compilePolicies(await loadPolicyFiles([stricter]));
    const report = whatIf(await loadRecordedRun(store, heldRunId), policies);
    expect(report.changes).toHaveLength(1);
    expect(report.changes[0]).toMatchObject({
      step: 4,
      name: 'fs.read_text_file',
      from: 'notify_human',
      to: 'require_approval',
      altersPath: true,
    });
    expect(report.pathAltered?.step).toBe(4);
    expect(report.decided).toBe(4);
    expect(report.recorded).toBe(10);
  });

  it('impact over recorded runs counts the transitions per rule', async () => {
    const file = path.join(demo.root, 'policies', 'file-clerk', 'policy.yaml');
    const looser = path.join(demo.root, 'looser.yaml');
    // Writes become autonomous, listing the folder needs approval.
    writeFileSync(
      looser,
      readFileSync(file, 'utf8')
        .replace(
          'match: { kind: tool, name: [fs.write_file, fs.create_directory, fs.edit_file] }\n      authority: require_approval',
          'match: { kind: tool, name: [fs.write_file, fs.create_directory, fs.edit_file] }\n      authority: autonomous',
        )
        .replace(
          '    - id: look-around',
          '    - id: trees-need-a-look\n      match: { kind: tool, name: fs.directory_tree }\n      authority: require_approval\n\n    - id: look-around',
        ),
    );
    const policies = compilePolicies(await loadPolicyFiles([looser]));
    const report = await policyImpact(store, policies, {});
    expect(report.runs).toBe(2);
    expect(report.actions).toBe(14);
    expect(report.rows).toEqual([
      { rule: 'file-clerk/trees-need-a-look', from: 'autonomous', to: 'require_approval', count: 1, runs: 1 },
      // A loosening is charged to the rule that no longer holds the action back.
      { rule: 'file-clerk/writes-need-an-ops-lead', from: 'require_approval', to: 'autonomous', count: 1, runs: 1 },
    ]);
    expect(report.newApprovals).toBe(1);
    expect(report.newDenies).toBe(0);
    expect(report.affectedRuns.sort()).toEqual([heldRunId, listRunId].sort());
    expect(report.pathChanges).toEqual([
      { runId: listRunId, step: 2, from: 'autonomous', to: 'require_approval', name: 'fs.directory_tree' },
    ]);
  });
});
