// The LangChain example as a test, with the real `langchain` package and its scripted
// FakeToolCallingModel: one middleware line governs an existing createAgent agent — an allowed
// lookup runs recorded, a denied deletion never runs, a large refund is held through a LangGraph
// interrupt and runs exactly once after approval, and the run is sealed and verifies.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '@aifactory/store';
import { readRunEvents } from '@aifactory/verification';
import { openWorkspace, workspaceConfigAt, type Workspace } from '@aifactory/workspace';
import { engines } from '../../packages/verification/test/engines.ts';
import { runExample } from './langchain-agent.ts';

const engine = engines('langchain').find((candidate) => candidate.name === 'postgres' && !candidate.skip) ?? engines('langchain')[0]!;

describe(`LangChain agent governed by one middleware line (${engine.name})`, () => {
  const home = mkdtempSync(path.join(tmpdir(), 'aifactory-langchain-test-'));
  let store: Store;
  let workspace: Workspace;
  beforeAll(async () => {
    store = await engine.open();
    workspace = await openWorkspace(workspaceConfigAt(home), { store });
  });
  afterAll(async () => {
    await workspace?.close();
    if (store) await engine.dispose(store);
    rmSync(home, { recursive: true, force: true });
  });

  it('records every decision before acting, denies, holds through an interrupt, runs once after approval, and verifies', async () => {
    const outcome = await runExample(workspace);
    expect(outcome.interrupt).toMatchObject({
      kind: 'aifactory.approval',
      approvalId: expect.stringMatching(/^apr_/),
      action: { kind: 'tool', name: 'refund_order' },
    });
    expect(outcome.refunds).toEqual([250]);
    expect(outcome.deletions).toBe(0);
    expect(outcome.verified).toBe(true);
    const trace: Array<{ type: string; payload: Record<string, unknown> }> = [];
    for await (const event of readRunEvents(store, outcome.runId))
      trace.push({ type: event.type, payload: event.payloadText ? (JSON.parse(event.payloadText) as Record<string, unknown>) : {} });
    const decided = (name: string) =>
      trace.find((event) => event.type === 'policy.decided' && (event.payload.action as { name: string }).name === name)?.payload
        .decision as { authority: string } | undefined;
    expect(decided('lookup_order')?.authority).toBe('autonomous');
    expect(decided('delete_customer')?.authority).toBe('deny');
    expect(decided('refund_order')?.authority).toBe('require_approval');
    // Model calls are governed actions too.
    expect(trace.some((event) => event.type === 'model.requested')).toBe(true);
    // Write-ahead: the refund's intent (with its approval) follows the consumed approval and precedes its outcome.
    const consumed = trace.findIndex((event) => event.type === 'approval.consumed');
    const called = trace.findIndex((event) => event.type === 'tool.called' && event.payload.name === 'refund_order');
    const returned = trace.findIndex((event) => event.type === 'tool.returned' && event.payload.name === 'refund_order');
    expect(consumed).toBeGreaterThan(-1);
    expect(called).toBeGreaterThan(consumed);
    expect(returned).toBeGreaterThan(called);
    expect(trace.some((event) => event.type === 'tool.called' && event.payload.name === 'delete_customer')).toBe(false);
    expect(trace.at(-1)?.type).toBe('run.completed');
  }, 120_000);
});
