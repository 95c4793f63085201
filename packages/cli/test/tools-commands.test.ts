// `factory tools`, run in-process against the real MCP filesystem server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseToolSchemas } from '@aifactory/control';
import { registerToolsCommands } from '../src/commands/tools.ts';
import { runProgram } from './run-program.ts';

describe('factory tools', () => {
  let folder: string;

  beforeAll(() => {
    folder = mkdtempSync(path.join(tmpdir(), 'aifactory-tools-cli-'));
    const agent = (name: string, tools: string) =>
      `apiVersion: aifactory/v1\nkind: Agent\nmetadata: { name: ${name}, description: Test agent. }\nspec:\n  model: { id: "scripted:test" }\n  system_prompt: Test.\n  tools:\n${tools}`;
    writeFileSync(
      path.join(folder, 'reader.yaml'),
      agent(
        'reader',
        `    - server: fs\n      package: "@modelcontextprotocol/server-filesystem"\n      args: ["\${agentDir}"]\n      allow: [read_text_file, list_directory, nothing_*]\n`,
      ),
    );
    writeFileSync(path.join(folder, 'ghost.yaml'), agent('ghost', '    - server: ghost\n      command: aifactory-no-such-command\n'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  afterEach(() => {
    process.exitCode = 0;
    vi.restoreAllMocks();
  });

  /** Runs `factory tools <args>` in-process; returns stdout, stderr and the exit code. */
  async function factory(...args: string[]) {
    const program = new Command('factory').exitOverride();
    registerToolsCommands(program, { agentsDirectory: folder });
    return runProgram(program, ['tools', ...args]);
  }

  it('lists the allowed tools as JSON that policy lint reads as tool schemas', async () => {
    const result = await factory('list', 'reader', '--json');
    expect(result.exitCode).toBe(0);
    const output = JSON.parse(result.stdout) as {
      agent: string;
      tools: Array<{ name: string; description: string; inputSchema: object }>;
      warnings: string[];
    };
    expect(output.agent).toBe('reader');
    expect(output.tools.map((tool) => tool.name)).toEqual(['fs.read_text_file', 'fs.list_directory']);
    expect(output.tools[0]).toMatchObject({
      description: expect.stringContaining('Read the complete contents'),
      inputSchema: { type: 'object', required: ['path'] },
    });
    expect(output.warnings).toEqual([expect.stringContaining("allow pattern 'nothing_*' matches none")]);
    const schemas = parseToolSchemas(result.stdout, 'tools.json');
    expect(schemas.map((schema) => schema.name)).toEqual(['fs.read_text_file', 'fs.list_directory']);
  });

  it('prints each tool with its model name and arguments, and with --all the ones left out', async () => {
    const result = await factory('list', path.join(folder, 'reader.yaml'), '--all');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/Agent .*reader.*: 2 tools from fs/);
    expect(result.stdout).toMatch(/fs\.read_text_file.*model name fs__read_text_file/);
    expect(result.stdout).toContain('args: path: string, tail?: number, head?: number');
    expect(result.stdout).toMatch(/fs\.write_file.*not allowed/);
    expect(result.stderr).toMatch(/warning.*allow pattern 'nothing_\*'/);
  });

  it('fails cleanly on an unknown agent and on a server that cannot start', async () => {
    const unknown = await factory('list', 'nobody');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/No agent named 'nobody' in .*; agents there: ghost, reader\./);
    const ghost = await factory('list', 'ghost', '--json');
    expect(ghost.exitCode).toBe(2);
    expect(JSON.parse(ghost.stdout)).toMatchObject({
      ok: false,
      error: { code: 'TOOL_FAILED', message: expect.stringContaining("MCP server 'ghost' could not be started") },
    });
  });
});
