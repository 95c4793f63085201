// Fail closed: when the store stops answering mid-run, the next action is not executed — the
// decision could not be recorded, so nothing runs — and the caller sees the error.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@aifactory/store';
import { ToolHost } from '@aifactory/execution';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('fail closed', () => {
  it('executes no further tool once the store is lost, and reports the failure', async () => {
    const demo = prepareDemoWorkspace();
    cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
    const store = await openStore();
    const workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
    cleanups.push(() => workspace.close());
    const executed: string[] = [];
    const original = ToolHost.prototype.call;
    ToolHost.prototype.call = function countingCall(this: ToolHost, name, args, options) {
      executed.push(name);
      return original.call(this, name, args, options);
    };
    cleanups.push(() => void (ToolHost.prototype.call = original));
    const run = workspace.runtime.start('file-clerk', 'Summarise invoice 1042.', {
      principal: { id: 'alice', roles: [] },
      onEvent: (event) => {
        // The database goes away right after the first tool returned.
        if (event.type === 'tool.returned') void store.close();
      },
    });
    await expect(run).rejects.toThrow(/closed|failed|unavailable/i);
    expect(executed).toEqual(['fs.list_directory']);
  });
});
