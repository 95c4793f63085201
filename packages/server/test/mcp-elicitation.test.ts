// A held action asked of the MCP client's user through elicitation: their answer is a vote under
// the policy's approver rules. With separation of duties off and the right role, a yes resumes the
// run to its end; with separation of duties on, the requester is not asked at all (their yes would
// be refused) and the call comes back pending, saying who may approve and how.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { prepareDemoWorkspace, repositoryRoot } from '../../../examples/demo/demo-workspace.ts';

const factory = path.join(repositoryRoot, 'packages', 'cli', 'dist', 'factory.mjs');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function connect(separationOfDuties: boolean) {
  const demo = prepareDemoWorkspace();
  cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
  const policyFile = path.join(demo.root, 'policies', 'file-clerk', 'policy.yaml');
  writeFileSync(
    policyFile,
    readFileSync(policyFile, 'utf8').replace(
      'roles: [ops-lead], count: 1, separation_of_duties: true, expires_in: 1h',
      `roles: [ops-lead], count: 1, separation_of_duties: ${separationOfDuties}, expires_in: 1h`,
    ),
  );
  const client = new Client({ name: 'elicitation-test', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  const asked: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(String(request.params.message));
    return { action: 'accept', content: { approve: true, comment: 'fine by me' } };
  });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [factory, 'mcp', 'serve', 'file-clerk', '--agents', demo.agentsDir, '--principal', 'lead@acme.example', '--role', 'ops-lead'],
    cwd: demo.root,
    env: { ...(process.env as Record<string, string>), AIFACTORY_HOME: demo.dataDir },
    stderr: 'ignore',
  });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, asked, demo };
}

describe('approvals through MCP elicitation', () => {
  it('resumes the run when the client user may approve and says yes', async () => {
    const { client, asked, demo } = await connect(false);
    const result = await client.callTool({ name: 'file-clerk', arguments: { input: 'Summarise invoice 1042 for finance.' } }, undefined, {
      timeout: 60_000,
    });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/fs\.write_file/);
    expect(result.structuredContent).toMatchObject({ status: 'completed' });
    expect(readFileSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md'), 'utf8')).toMatch(/Invoice 1042/);
  }, 90_000);

  it('does not ask the requester when separation of duties would refuse them; it says who may approve and how', async () => {
    const { client, asked } = await connect(true);
    const result = await client.callTool({ name: 'file-clerk', arguments: { input: 'Summarise invoice 1042 for finance.' } }, undefined, {
      timeout: 60_000,
    });
    expect(asked).toHaveLength(0);
    expect(result.structuredContent).toMatchObject({ status: 'pending_approval' });
    const text = JSON.stringify(result.content);
    expect(text).toMatch(/separation of duties/);
    expect(text).toMatch(/An approver with role ops-lead other than lead@acme\.example/);
    expect(text).toMatch(/factory approvals approve apr_[0-9a-f]+ --as \\"\$USER\\" --role ops-lead/);
  }, 90_000);
});
