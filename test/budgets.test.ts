// Budgets: a policy's limits stop the run, or hold it until an approver lets it go beyond the
// limit; either way the crossing is recorded.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { readRunEvents, verifyRun } from '@aifactory/verification';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function clerkWithLimits(limits: string) {
  const demo = prepareDemoWorkspace();
  cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
  const policyFile = path.join(demo.root, 'policies', 'file-clerk', 'policy.yaml');
  writeFileSync(policyFile, readFileSync(policyFile, 'utf8').replace(/^ {2}limits: .*$/m, `  limits: ${limits}`));
  const store: Store = await openStore();
  cleanups.push(() => store.close());
  const workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
  cleanups.push(() => workspace.close());
  return { workspace, store };
}

async function recordedTypes(store: Store, runId: string): Promise<string[]> {
  const types: string[] = [];
  for await (const event of readRunEvents(store, runId)) types.push(event.type);
  return types;
}

describe('budgets', () => {
  it('stops the run when a limit with on_exceeded stop is reached, and records it', async () => {
    const { workspace, store } = await clerkWithLimits('{ max_tool_calls: 1, on_exceeded: stop }');
    const result = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042.', { principal: { id: 'alice', roles: [] } });
    expect(result.status).toBe('failed');
    if (result.status === 'failed') expect(result.error).toMatch(/max_tool_calls/);
    const types = await recordedTypes(store, result.runId);
    expect(types.filter((type) => type === 'tool.called')).toHaveLength(1);
    expect(types).toContain('budget.exceeded');
    expect((await verifyRun(store, result.runId)).ok).toBe(true);
  });

  it('holds the run when a limit with on_exceeded hold is reached; an approval lets it go on', async () => {
    const { workspace, store } = await clerkWithLimits('{ max_tool_calls: 1, on_exceeded: hold }');
    const principal = { id: 'alice', roles: [] };
    const first = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042.', { principal });
    expect(first.status).toBe('held');
    if (first.status !== 'held') return;
    expect(first.held.name).toBe('budget:max_tool_calls');
    await workspace.approvals.vote(first.held.approvalId, { approver: { id: 'carol', roles: ['ops-lead'] }, vote: 'approve' });
    const second = await workspace.runtime.resume(first.runId, { approvalId: first.held.approvalId });
    // Past the lifted limit the run goes on until the write, which needs its own approval.
    expect(second.status).toBe('held');
    if (second.status === 'held') expect(second.held.name).toBe('fs.write_file');
    const types = await recordedTypes(store, first.runId);
    expect(types.filter((type) => type === 'budget.exceeded')).toHaveLength(1);
    expect(types.filter((type) => type === 'tool.called')).toHaveLength(2);
  });
});
