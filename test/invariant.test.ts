// The invariant of the product (docs/architecture.md): no code path executes a tool or calls a model without a recorded
// decision. Every tool execution (ToolHost.call, the one door to MCP servers) and every model call
// (the gateway) is instrumented to look in the store, at that moment, for a committed
// `policy.decided` event of the same action; an execution without one fails the test. It runs
// across every example agent, and the file-clerk run covers all four authorities.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contentHash } from '@aifactory/core';
import { openStore, sql, type Store } from '@aifactory/store';
import { createKnowledgeBase } from '@aifactory/knowledge';
import { createModelGateway, findAgent, ToolHost, type ModelGateway, type RunEvent } from '@aifactory/execution';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { prepareDemoWorkspace, repositoryRoot } from '../examples/demo/demo-workspace.ts';

interface Violation {
  kind: string;
  name: string;
}

/** Counts committed decisions that allowed (name, args hash) to run, straight from the events table. */
async function allowedDecisions(store: Store, kind: string, name: string, argsHash?: string): Promise<number> {
  const rows = await store.query<{ count: number }>(sql`
    select count(*)::int as count from events
    where type = 'policy.decided'
      and (payload::jsonb)->'action'->>'kind' = ${kind}
      and (payload::jsonb)->'action'->>'name' = ${name}
      and (${argsHash ?? null}::text is null or (payload::jsonb)->'action'->>'args_hash' = ${argsHash ?? null})
      and (payload::jsonb)->'decision'->>'authority' in ('autonomous', 'notify_human', 'require_approval')`);
  return rows[0]?.count ?? 0;
}

/** Wraps ToolHost.call and a gateway so each execution first proves its decision is in the store. */
function instrument(store: Store, gateway: ModelGateway) {
  const violations: Violation[] = [];
  const executed = new Map<string, number>();
  const original = ToolHost.prototype.call;
  ToolHost.prototype.call = async function instrumentedCall(this: ToolHost, name, args, options) {
    const key = `tool:${name}:${contentHash(args)}`;
    const count = (executed.get(key) ?? 0) + 1;
    executed.set(key, count);
    if ((await allowedDecisions(store, 'tool', name, contentHash(args))) < count) violations.push({ kind: 'tool', name });
    return original.call(this, name, args, options);
  };
  const governedGateway: ModelGateway = {
    async call(request, options) {
      const key = `model:${request.model}`;
      const count = (executed.get(key) ?? 0) + 1;
      executed.set(key, count);
      if ((await allowedDecisions(store, 'model', request.model)) < count) violations.push({ kind: 'model', name: request.model });
      return gateway.call(request, options);
    },
  };
  return { violations, executed, gateway: governedGateway, restore: () => (ToolHost.prototype.call = original) };
}

describe('the invariant: every execution follows a durable decision', () => {
  const demo = prepareDemoWorkspace();
  let store: Store;
  afterAll(async () => {
    await store?.close();
    rmSync(demo.root, { recursive: true, force: true });
  });

  it('holds for every example agent and every authority', async () => {
    store = await openStore();
    const probe = instrument(store, createModelGateway({ scriptDirectory: path.join(demo.agentsDir, 'scripts') }));
    try {
      // The knowledge copilot needs its collection.
      const knowledge = createKnowledgeBase(store, { dataDir: demo.dataDir });
      await knowledge.ingest(path.join(repositoryRoot, 'examples', 'knowledge-copilot', 'docs'), { collection: 'company-handbook' });
      await knowledge.close();

      const workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir, gateway: probe.gateway });
      const authorities = new Set<string>();
      const onEvent = (event: RunEvent) => {
        if (event.type === 'action.decided') authorities.add(event.authority);
      };
      const principal = { id: 'alice@acme.example', roles: ['clerk'] };
      const clerk = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042 and archive it.', { principal, onEvent });
      expect(clerk.status).toBe('held');
      if (clerk.status === 'held') {
        await workspace.approvals.vote(clerk.held.approvalId, {
          approver: { id: 'bob@acme.example', roles: ['ops-lead'] },
          vote: 'approve',
        });
        expect((await workspace.runtime.resume(clerk.runId, { approvalId: clerk.held.approvalId, onEvent })).status).toBe('completed');
      }
      const copilot = await workspace.runtime.start('policy-copilot', 'How much parental leave do I get?', { principal, onEvent });
      expect(copilot.status).toBe('completed');
      if (copilot.status === 'completed') expect(copilot.answer).toMatch(/16 weeks/);
      const triage = await workspace.runtime.start('support-triage', 'Customer Globex reports that exports time out.', {
        principal,
        onEvent,
      });
      expect(['completed', 'held']).toContain(triage.status);
      const desk = await workspace.runtime.start('front-desk', 'What is in the shared folder?', { principal, onEvent });
      expect(desk.status).toBe('completed');
      await workspace.close();

      expect([...authorities].sort()).toEqual(['autonomous', 'deny', 'notify_human', 'require_approval']);
      expect([...probe.executed.keys()].some((key) => key.startsWith('tool:fs.'))).toBe(true);
      expect([...probe.executed.keys()].some((key) => key.startsWith('model:'))).toBe(true);
      expect(probe.violations).toEqual([]);

      // The instrument itself can fail: a tool executed behind the gate's back is caught.
      const host = await ToolHost.connect((await findAgent('file-clerk', { directory: demo.agentsDir })).tools);
      await host.call('fs.list_directory', { path: 'archive' });
      await host.close();
      expect(probe.violations).toEqual([{ kind: 'tool', name: 'fs.list_directory' }]);
    } finally {
      probe.restore();
    }
  }, 120_000);
});
