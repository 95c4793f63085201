// Arguments are checked against the tool's input schema before decide() sees them: a call whose
// arguments fail it (a list where the tool takes a path string, a string where it takes a
// number) is denied before any rule, recorded with the schema error, and never executed. Real
// parts: the file-clerk agent, the MCP filesystem server, PGlite.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@aifactory/store';
import { ToolHost, type RunEvent } from '@aifactory/execution';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { readRunEvents } from '@aifactory/verification';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('tool arguments against the input schema', () => {
  it('denies a call whose arguments fail the schema before any rule, records the schema error, and runs nothing', async () => {
    const demo = prepareDemoWorkspace();
    cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
    // The scripted model smuggles the invoice's path in a list: a plain rule would see a list, not an invoice path.
    const scriptFile = path.join(demo.agentsDir, 'scripts', 'file-clerk.script.yaml');
    const script = readFileSync(scriptFile, 'utf8').replace(
      'scenarios:\n',
      'scenarios:\n  - when_user_matches: "smuggle"\n    turns:\n      - tool_calls:\n          - name: fs.read_text_file\n            args: { path: ["invoices/invoice-1042.txt"] }\n      - say: "{{last_tool_result}}"\n',
    );
    writeFileSync(scriptFile, script);
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

    const events: RunEvent[] = [];
    const result = await workspace.runtime.start('file-clerk', 'smuggle the invoice out', {
      principal: { id: 'alice', roles: [] },
      onEvent: (event) => events.push(event),
    });
    expect(result.status).toBe('completed');
    if (result.status !== 'completed') return;
    expect(executed).toEqual([]);
    expect(events.filter((event) => event.type === 'action.decided').map((event) => `${event.name}:${event.authority}`)).toContain(
      'fs.read_text_file:deny',
    );
    expect(result.answer).toBe(
      "Error: The tool 'fs.read_text_file' was denied before any rule: its arguments do not match its input schema: args.path: must be string.",
    );

    const recorded: Array<{ type: string; payload: { action?: { name?: string } } }> = [];
    for await (const event of readRunEvents(store, result.runId))
      recorded.push({ type: event.type, payload: JSON.parse(event.payloadText ?? '{}') as { action?: { name?: string } } });
    const decided = recorded.find((event) => event.type === 'policy.decided' && event.payload.action?.name === 'fs.read_text_file');
    expect(decided?.payload).toMatchObject({
      arguments_invalid: ['args.path: must be string'],
      action: { kind: 'tool', name: 'fs.read_text_file', args: {} },
      decision: {
        authority: 'deny',
        rules: [],
        reason:
          "Denied before any rule: the arguments of tool 'fs.read_text_file' do not match its input schema (args.path: must be string).",
      },
    });
    expect(recorded.some((event) => event.type === 'tool.called')).toBe(false);
  });
});
