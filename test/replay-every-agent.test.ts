// Replay of every kind of run the example agents make, each identical to its recording: the
// policy copilot's governed retrievals (its collections are part of what the model was asked),
// the support triage agent's memory tools, and the front desk's hand-offs — whose child runs are
// replayed too, not only their recorded answers served back.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { openStore, type Store } from '@aifactory/store';
import { runs } from '@aifactory/store/schema';
import { createKnowledgeBase } from '@aifactory/knowledge';
import { createWorkspaceRuntime, workspaceConfigAt, type WorkspaceRuntime } from '@aifactory/workspace';
import { createApiToken, startServer } from '@aifactory/server';
import { replayRun } from '../packages/execution/src/replay/index.ts';
import { prepareDemoWorkspace, type DemoWorkspace } from '../examples/demo/demo-workspace.ts';

describe('replay of every example agent', () => {
  let demo: DemoWorkspace;
  let store: Store;
  let workspace: WorkspaceRuntime;

  beforeAll(async () => {
    demo = prepareDemoWorkspace();
    store = await openStore();
    const knowledge = createKnowledgeBase(store, { dataDir: demo.dataDir });
    await knowledge.ingest(path.join(demo.root, 'examples', 'knowledge-copilot', 'docs'), {
      collection: 'company-handbook',
      classifications: ['internal'],
      jsonl: { textField: 'answer', titleField: 'question' },
    });
    await knowledge.close();
    workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
  }, 60_000);

  afterAll(async () => {
    await workspace?.close();
    await store?.close();
    if (demo) rmSync(demo.root, { recursive: true, force: true });
  });

  it('replays a policy-copilot run that searched the handbook identical, its retrieval compared and served from the trace', async () => {
    const run = await workspace.runtime.start('policy-copilot', 'How much parental leave do I get?', {
      principal: { id: 'erin', roles: [] },
    });
    expect(run.status).toBe('completed');
    const report = await replayRun(store, { runId: run.runId, recorder: workspace.recorder, agentsDir: demo.agentsDir });
    expect(report.divergence).toBeNull();
    expect(report.outcome).toBe('identical');
    expect(report.steps).toBe(4);
  });

  it('replays the policy-copilot run identical over HTTP too (the server builds replay with the knowledge base)', async () => {
    const run = await workspace.runtime.start('policy-copilot', 'How do I reset my VPN token?', { principal: { id: 'erin', roles: [] } });
    expect(run.status).toBe('completed');
    const server = await startServer({
      store,
      config: workspaceConfigAt(demo.dataDir, { agentsDir: demo.agentsDir }),
      port: 0,
      log: () => {},
    });
    try {
      const { token } = await createApiToken(store, { principal: 'audrey', roles: ['auditor'] });
      const response = await fetch(`${server.url}/v1/runs/${run.runId}/replay`, {
        method: 'POST',
        body: '{}',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      expect(response.status).toBe(200);
      const { replay } = (await response.json()) as { replay: { outcome: string; divergence: unknown } };
      expect(replay.divergence).toBeNull();
      expect(replay.outcome).toBe('identical');
    } finally {
      await server.close();
    }
  });

  it('replays a support-triage run identical', async () => {
    const run = await workspace.runtime.start('support-triage', 'Globex cannot log in after a password reset.', {
      principal: { id: 'erin', roles: [] },
    });
    expect(run.status).toBe('completed');
    const report = await replayRun(store, { runId: run.runId, agentsDir: demo.agentsDir });
    expect(report.divergence).toBeNull();
    expect(report.outcome).toBe('identical');
  });

  it('replays a front-desk run and the child run of its hand-off, both identical', async () => {
    const run = await workspace.runtime.start('front-desk', 'What is in the shared folder?', { principal: { id: 'dana', roles: [] } });
    expect(run.status).toBe('completed');
    const [child] = await store.db.select().from(runs).where(eq(runs.parentRunId, run.runId));
    const report = await replayRun(store, { runId: run.runId, recorder: workspace.recorder, agentsDir: demo.agentsDir });
    expect(report.outcome).toBe('identical');
    expect(report.children.map((replayed) => [replayed.runId, replayed.outcome])).toEqual([[child!.id, 'identical']]);
    expect(report.children[0]!.steps).toBeGreaterThan(0);
    // The child's replay is recorded as a run of its own, a replay of the child.
    const [recordedChildReplay] = await store.db.select().from(runs).where(eq(runs.id, report.children[0]!.replayRunId!));
    expect(recordedChildReplay?.replayOf).toBe(child!.id);
  });

  it('replays a front-desk run whose hand-off waited for an approval, and the held child, identical', async () => {
    const desk = await workspace.runtime.start('front-desk', 'Please summarise invoice 1042 for finance.', {
      principal: { id: 'dana', roles: [] },
    });
    expect(desk.status).toBe('held');
    if (desk.status !== 'held') return;
    await workspace.approvals.vote(desk.held.approvalId, { approver: { id: 'bob', roles: ['ops-lead'] }, vote: 'approve' });
    const finished = await workspace.runtime.resume(desk.runId, { approvalId: desk.held.approvalId });
    expect(finished.status).toBe('completed');
    const report = await replayRun(store, { runId: desk.runId, agentsDir: demo.agentsDir });
    expect(report.divergence).toBeNull();
    expect(report.outcome).toBe('identical');
    expect(report.children).toHaveLength(1);
    expect(report.children[0]!.outcome).toBe('identical');
  });

  it("a child run that parts from its recording is the parent's divergence, at the hand-off", async () => {
    const run = await workspace.runtime.start('front-desk', 'What is in the shared folder?', { principal: { id: 'dana', roles: [] } });
    expect(run.status).toBe('completed');
    const file = path.join(demo.agentsDir, 'file-clerk.yaml');
    const { readFileSync, writeFileSync } = await import('node:fs');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('Never delete anything.', 'Never delete anything, and be brief.'));
    try {
      const report = await replayRun(store, { runId: run.runId, agentsDir: demo.agentsDir });
      expect(report.outcome).toBe('diverged');
      expect(report.divergence?.recorded?.kind).toBe('handoff');
      expect(report.divergence?.reason).toMatch(/hand-off to 'file-clerk' started run .*whose replay diverges at its step 1/);
      expect(report.children[0]!.outcome).toBe('diverged');
    } finally {
      writeFileSync(file, original);
    }
  });
});
