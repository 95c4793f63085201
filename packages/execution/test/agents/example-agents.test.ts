// The example agents in agents/ load, start their real MCP servers, and every tool call their
// model scripts make names an allowed tool with arguments its schema accepts.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgents, type AgentDefinition } from '../../src/agents/index.ts';
import { loadScript, type ScriptToolCall } from '../../src/models/index.ts';
import { isIdempotent } from '../../src/runtime/run-recovery.ts';
import { ToolHost } from '../../src/tools/index.ts';

const repository = path.resolve(import.meta.dirname, '..', '..', '..', '..');
let dataDirectory: string;
let agents: Map<string, AgentDefinition>;

beforeAll(async () => {
  dataDirectory = await mkdtemp(path.join(tmpdir(), 'aifactory-example-agents-'));
  agents = new Map((await loadAgents(path.join(repository, 'agents'), { dataDirectory })).map((agent) => [agent.name, agent]));
});

afterAll(() => rm(dataDirectory, { recursive: true, force: true }));

async function scriptedCalls(agent: AgentDefinition): Promise<ScriptToolCall[]> {
  const script = await loadScript(agent.model.script as string);
  const turns = [...(script.turns ?? []), ...(script.scenarios ?? []).flatMap((scenario) => scenario.turns)];
  return turns.flatMap((turn) => turn.toolCalls ?? []);
}

describe('example agents', () => {
  it('load from agents/ with their scripts, prompts and limits', () => {
    expect([...agents.keys()]).toEqual(expect.arrayContaining(['file-clerk', 'support-triage']));
    const clerk = agents.get('file-clerk') as AgentDefinition;
    expect(clerk.model.script).toBe(path.join(repository, 'agents', 'scripts', 'file-clerk.script.yaml'));
    expect(clerk.tools[0]).toMatchObject({
      name: 'fs',
      command: process.execPath,
      args: [expect.stringContaining('server-filesystem'), `${path.join(repository, 'agents')}/../examples/demo/workspace`],
    });
    expect(clerk.maxDurationMs).toBe(120_000);
    expect(agents.get('support-triage')?.tools[0]?.env).toEqual({
      MEMORY_FILE_PATH: path.join(dataDirectory, 'support-triage.memory.jsonl'),
    });
  });

  it('a call cut by a crash is retried only for the tools that only read: the writes wait for a human (outcome_unknown)', () => {
    const retried = (agent: string, name: string) => isIdempotent(agents.get(agent) as AgentDefinition, { kind: 'tool', name });
    for (const name of [
      'fs.list_directory',
      'fs.read_text_file',
      'fs.directory_tree',
      'fs.get_file_info',
      'fs.search_files',
      'fs.create_directory',
    ])
      expect(retried('file-clerk', name), name).toBe(true);
    for (const name of ['fs.write_file', 'fs.move_file', 'fs.edit_file']) expect(retried('file-clerk', name), name).toBe(false);
    for (const name of ['memory.search_nodes', 'memory.open_nodes', 'memory.read_graph'])
      expect(retried('support-triage', name), name).toBe(true);
    for (const name of ['memory.create_entities', 'memory.create_relations', 'memory.add_observations'])
      expect(retried('support-triage', name), name).toBe(false);
  });

  it('file-clerk: every scripted call is an allowed tool with valid arguments, and the read-only ones work on the demo folder', async () => {
    const clerk = agents.get('file-clerk') as AgentDefinition;
    const host = await ToolHost.connect(clerk.tools);
    try {
      expect(host.warnings).toEqual([]);
      const calls = await scriptedCalls(clerk);
      expect(calls.map((call) => call.name)).toEqual(
        expect.arrayContaining(['fs.list_directory', 'fs.read_text_file', 'fs.write_file', 'fs.move_file']),
      );
      for (const call of calls) expect(host.validate(call.name, call.args ?? {}), call.name).toEqual({ ok: true });

      const listing = await host.call('fs.list_directory', { path: 'invoices' });
      expect(listing.ok && listing.content).toContain('[FILE] invoice-1042.txt');
      const invoice = await host.call('fs.read_text_file', { path: 'invoices/invoice-1042.txt' });
      expect(invoice.ok && invoice.content).toContain('Total: 1006.74 EUR');
      const tree = await host.call('fs.directory_tree', { path: '.' });
      expect(tree.ok).toBe(true);
    } finally {
      await host.close();
    }
  });

  it('support-triage: its scripted calls run against the memory server and land in the data folder', async () => {
    const triage = agents.get('support-triage') as AgentDefinition;
    const host = await ToolHost.connect(triage.tools);
    try {
      expect(host.warnings).toEqual([]);
      expect(host.list().map((tool) => tool.tool)).not.toContain('delete_entities');
      for (const call of await scriptedCalls(triage)) {
        const result = await host.call(call.name, call.args ?? {});
        expect(result.ok, `${call.name}: ${JSON.stringify(result)}`).toBe(true);
      }
      expect(await readFile(path.join(dataDirectory, 'support-triage.memory.jsonl'), 'utf8')).toContain('TICKET-2001');
    } finally {
      await host.close();
    }
  });
});
