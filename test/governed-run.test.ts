// End to end through every plane: the file-clerk agent (scripted model, the real MCP filesystem
// server) runs under its policy on PGlite and on Postgres; reading is autonomous, reading an
// invoice notifies finance, writing waits for an ops lead, moving an original is denied. The held
// run is resumed by a second runtime (as another process would), and the sealed run verifies.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, sql, type Store } from '@aifactory/store';
import { listNotifications, type RunEvent } from '@aifactory/execution';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { verifyRun, readRunEvents } from '@aifactory/verification';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!postgresUrl) console.warn('[governed-run] AIFACTORY_TEST_DATABASE_URL is not set: the Postgres half is skipped (PGlite runs).');

const engines = [
  { name: 'pglite', skip: false, open: () => openStore() },
  {
    name: 'postgres',
    skip: !postgresUrl,
    open: () => openStore({ databaseUrl: postgresUrl!, schema: `t_e2e_${randomUUID().slice(0, 8)}` }),
  },
];

for (const engine of engines) {
  describe.skipIf(engine.skip)(`a governed run on ${engine.name}`, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it('applies all four authorities, holds for approval, resumes in another runtime and verifies', async () => {
      const demo = prepareDemoWorkspace();
      cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
      const store: Store = await engine.open();
      cleanups.push(async () => {
        if (store.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
        await store.close();
      });

      const first = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
      cleanups.push(() => first.close());
      const events: RunEvent[] = [];
      const started = await first.runtime.start('file-clerk', 'Summarise invoice 1042 for finance and archive the original.', {
        principal: { id: 'alice@acme.example', roles: ['clerk'] },
        onEvent: (event) => events.push(event),
      });
      expect(started.status).toBe('held');
      if (started.status !== 'held') return;
      const decided = events.filter((event) => event.type === 'action.decided').map((event) => `${event.name}:${event.authority}`);
      expect(decided).toEqual([
        'scripted:file-clerk.script:autonomous',
        'fs.list_directory:autonomous',
        'scripted:file-clerk.script:autonomous',
        'fs.read_text_file:notify_human',
        'scripted:file-clerk.script:autonomous',
        'fs.write_file:require_approval',
      ]);
      expect(existsSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md'))).toBe(false);
      // The next action is governed while LangGraph moves between nodes, yet the trace reads in
      // the order things happened: each step's outcomes, then the next decision and its intent.
      const heldTrace: string[] = [];
      for await (const event of readRunEvents(store, started.runId)) heldTrace.push(event.type);
      expect(heldTrace).toEqual([
        'run.started',
        ...['policy.decided', 'model.requested', 'model.responded', 'policy.decided', 'tool.called', 'tool.returned'],
        ...[
          'policy.decided',
          'model.requested',
          'model.responded',
          'policy.decided',
          'tool.called',
          'notification.queued',
          'tool.returned',
        ],
        ...['policy.decided', 'model.requested', 'model.responded', 'policy.decided', 'approval.requested', 'run.held'],
      ]);

      // The requester cannot approve their own run; an ops lead can.
      await expect(
        first.approvals.vote(started.held.approvalId, { approver: { id: 'alice@acme.example', roles: ['ops-lead'] }, vote: 'approve' }),
      ).rejects.toThrow();
      const vote = await first.approvals.vote(started.held.approvalId, {
        approver: { id: 'bob@acme.example', roles: ['ops-lead'] },
        vote: 'approve',
        comment: 'fine',
      });
      expect(vote.kind).toBe('approved');

      const second = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
      cleanups.push(() => second.close());
      const resumedEvents: RunEvent[] = [];
      const finished = await second.runtime.resume(started.runId, {
        approvalId: started.held.approvalId,
        onEvent: (event) => resumedEvents.push(event),
      });
      expect(finished.status).toBe('completed');
      if (finished.status !== 'completed') return;
      expect(finished.answer).toMatch(/1006\.74 EUR/);
      expect(finished.answer).toMatch(/records management/);
      expect(readFileSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md'), 'utf8')).toMatch(/Invoice 1042/);
      expect(existsSync(path.join(demo.sharedFolder, 'invoices', 'invoice-1042.txt'))).toBe(true);
      expect(resumedEvents.filter((event) => event.type === 'action.decided').map((event) => `${event.name}:${event.authority}`)).toEqual([
        'scripted:file-clerk.script:autonomous',
        'fs.move_file:deny',
        'scripted:file-clerk.script:autonomous',
        'answer:autonomous',
      ]);

      // The approval was single-use.
      await expect(second.runtime.resume(started.runId, { approvalId: started.held.approvalId })).rejects.toThrow();
      // The run's end is not checkpointed (nothing resumes an ended run; the checkpoint would hold
      // its whole conversation at rest): the one checkpoint kept is its hold's, resumed from above.
      const [checkpoints] = await store.query<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM checkpoints WHERE thread_id = ${started.runId}`,
      );
      expect(checkpoints!.n).toBe(1);

      const inbox = await listNotifications(store, { inbox: 'finance' });
      expect(inbox).toHaveLength(1);

      const report = await verifyRun(store, started.runId);
      expect(report.ok).toBe(true);
      const types: string[] = [];
      for await (const event of readRunEvents(store, started.runId)) types.push(event.type);
      expect(types[0]).toBe('run.started');
      expect(types.at(-1)).toBe('run.completed');
      expect(types).toContain('approval.granted');
      // Write-ahead: every tool call follows its recorded decision.
      for (let index = 0; index < types.length; index += 1) {
        if (types[index] === 'tool.called') expect(types.slice(0, index).lastIndexOf('policy.decided')).toBeGreaterThanOrEqual(0);
      }
    });
  });
}
