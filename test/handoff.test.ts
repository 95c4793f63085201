// The supervisor pattern: the front desk hands work to the file clerk. The hand-off is a governed
// action of the parent run, and the clerk's work is a child run of its own, linked to the parent.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { openStore, runs } from '@aifactory/store';
import { createWorkspaceRuntime, type RunEvent } from '@aifactory/execution';
import { verifyAll } from '@aifactory/verification';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('hand-offs', () => {
  it('governs the hand-off and runs the other agent as a linked child run', async () => {
    const demo = prepareDemoWorkspace();
    cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
    const store = await openStore();
    cleanups.push(() => store.close());
    const workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
    cleanups.push(() => workspace.close());
    const events: RunEvent[] = [];
    const result = await workspace.runtime.start('front-desk', 'What is in the shared folder?', { principal: { id: 'dana', roles: [] }, onEvent: (event) => events.push(event) });
    expect(result.status).toBe('completed');
    if (result.status !== 'completed') return;
    expect(result.answer).toMatch(/invoice-1042\.txt/);
    expect(events.flatMap((event) => (event.type === 'action.decided' && event.kind === 'handoff' ? [`${event.name}:${event.authority}`] : []))).toEqual(['file-clerk:autonomous']);
    const children = await store.db.select().from(runs).where(eq(runs.parentRunId, result.runId));
    expect(children.map((child) => [child.agent, child.status])).toEqual([['file-clerk', 'completed']]);
    const summary = await verifyAll(store);
    expect(summary.ok).toBe(true);
  });
});
