// A governed session (the MCP proxy's and the LangChain middleware's run) writes an executed
// action's outcome within its flush delay, even when no other action follows: a client idle after
// its last call must not leave an outcome that only a later call or the session's end would write.
import { afterEach, expect, it } from 'vitest';
import type { Store } from '@aifactory/store';
import { compilePolicies, parsePolicy } from '@aifactory/control';
import { GovernedSession, RunOwnership } from '@aifactory/execution';
import { runtimeRecorder } from '@aifactory/workspace';
import { readRunEvents, verifyRun } from '@aifactory/verification';
import { demoRuntime } from './fixtures/demo-runtime.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function typesOf(store: Store, runId: string): Promise<string[]> {
  const types: string[] = [];
  for await (const event of readRunEvents(store, runId)) types.push(event.type);
  return types;
}

it('writes the outcome of the last call on its own once it has waited the flush delay, once, and the run verifies', async () => {
  const { store, workspace } = await demoRuntime(cleanups);
  const policies = compilePolicies([
    parsePolicy(
      'apiVersion: aifactory/v1\nkind: AutonomyPolicy\nmetadata: { name: open, version: 1, owner: risk@acme.example }\nspec:\n  default: autonomous\n  rules: []\n',
      'open.yaml',
    ),
  ]);
  const session = await GovernedSession.open({
    recorder: runtimeRecorder(workspace.recorder),
    approvals: workspace.approvals,
    ownership: new RunOwnership({ store }),
    policies: () => policies,
    store,
    agent: { id: 'mcp:fs' },
    principal: { id: 'alice', roles: [] },
    flushAfterMs: 50,
  });
  const outcome = await session.act(
    { kind: 'tool', name: 'fs.read_file', args: { path: 'invoice-1042.pdf' } },
    {
      intent: (args, step) => ({ type: 'tool.called', actor: 'mcp:fs', payload: { step, name: 'fs.read_file', call_id: 'c1', args } }),
      execute: async () => 'contents',
      returned: (value, step) => ({
        type: 'tool.returned',
        actor: 'mcp:fs',
        payload: { step, name: 'fs.read_file', call_id: 'c1', content: [{ type: 'text', text: value }] },
      }),
      failed: (_error, step) => ({
        type: 'tool.failed',
        actor: 'mcp:fs',
        payload: { step, name: 'fs.read_file', call_id: 'c1', error: { code: 'upstream_failed', message: 'failed' } },
      }),
    },
  );
  expect(outcome.kind).toBe('executed');
  // No other call, no finish: the outcome is durable on its own.
  const deadline = Date.now() + 10_000;
  while (!(await typesOf(store, session.runId)).includes('tool.returned') && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await typesOf(store, session.runId)).toEqual(['run.started', 'policy.decided', 'tool.called', 'tool.returned']);
  await session.finish();
  const types = await typesOf(store, session.runId);
  expect(types.filter((type) => type === 'tool.returned')).toHaveLength(1);
  expect(types.at(-1)).toBe('run.completed');
  expect(await verifyRun(store, session.runId)).toMatchObject({ ok: true });
});
