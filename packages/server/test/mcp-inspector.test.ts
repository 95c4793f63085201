// `factory mcp serve` driven by the official MCP Inspector in CLI mode (@modelcontextprotocol/inspector):
// it lists the agent as a tool, and a call that reaches an action needing approval comes back as a
// pending result carrying the approval id.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareDemoWorkspace, repositoryRoot } from '../../../examples/demo/demo-workspace.ts';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const inspector = path.join(
  path.dirname(require.resolve('@modelcontextprotocol/inspector/package.json')),
  'clients',
  'launcher',
  'build',
  'index.js',
);
const factory = path.join(repositoryRoot, 'packages', 'cli', 'dist', 'factory.mjs');

describe('factory mcp serve with the MCP Inspector CLI', () => {
  const demo = prepareDemoWorkspace();
  afterAll(() => rmSync(demo.root, { recursive: true, force: true }));
  const inspect = (...methodArgs: string[]) =>
    run(
      process.execPath,
      [
        inspector,
        '--cli',
        '--connect-timeout',
        '60000',
        process.execPath,
        factory,
        'mcp',
        'serve',
        'file-clerk',
        '--agents',
        demo.agentsDir,
        '--principal',
        'inspector@acme.example',
        ...methodArgs,
      ],
      {
        cwd: demo.root,
        env: { ...process.env, AIFACTORY_HOME: demo.dataDir },
        timeout: 90_000,
      },
    );

  it('lists the agent as a tool and returns a held action as pending with its approval id', async () => {
    const listed = JSON.parse((await inspect('--method', 'tools/list')).stdout) as { tools: Array<{ name: string }> };
    expect(listed.tools.map((tool) => tool.name)).toContain('file-clerk');
    const called = (
      await inspect('--method', 'tools/call', '--tool-name', 'file-clerk', '--tool-arg', 'input=Summarise invoice 1042 for finance.')
    ).stdout;
    expect(called).toMatch(/pending_approval/);
    expect(called).toMatch(/apr_[0-9a-f]+/);
  }, 200_000);
});
