// A policy's redact obligation masks argument fields in everything recorded about the action —
// its decision and, after an approval, the tool call itself — while the tool still gets them.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@aifactory/store';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { readRunEvents } from '@aifactory/verification';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('redact obligations', () => {
  it('masks the named argument in the recorded decision and the recorded call, not in the call', async () => {
    const demo = prepareDemoWorkspace();
    cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
    const policyFile = path.join(demo.root, 'policies', 'file-clerk', 'policy.yaml');
    const source = readFileSync(policyFile, 'utf8');
    const masked = source.replace(
      '      reason: Anything the agent writes is checked by an operations lead first.\n',
      '      reason: Anything the agent writes is checked by an operations lead first.\n      redact: [action.args.content]\n',
    );
    expect(masked).not.toBe(source);
    writeFileSync(policyFile, masked);
    const store = await openStore();
    cleanups.push(() => store.close());
    const workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
    cleanups.push(() => workspace.close());
    const held = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042.', { principal: { id: 'alice', roles: [] } });
    expect(held.status).toBe('held');
    if (held.status !== 'held') return;
    await workspace.approvals.vote(held.held.approvalId, { approver: { id: 'bob', roles: ['ops-lead'] }, vote: 'approve' });
    expect((await workspace.runtime.resume(held.runId, { approvalId: held.held.approvalId })).status).toBe('completed');
    expect(readFileSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md'), 'utf8')).toMatch(/1006\.74 EUR/);
    const writes: Array<{ type: string; payload: unknown }> = [];
    for await (const event of readRunEvents(store, held.runId)) {
      if ((event.payloadText ?? '').includes('fs.write_file') && (event.type === 'policy.decided' || event.type === 'tool.called'))
        writes.push({ type: event.type, payload: event.payloadText });
    }
    expect(writes.map((write) => write.type)).toEqual(['policy.decided', 'tool.called']);
    for (const write of writes) {
      expect(JSON.stringify(write.payload)).toContain('[MASKED:policy]');
      expect(JSON.stringify(write.payload)).not.toContain('1006.74 EUR');
    }
  });
});
