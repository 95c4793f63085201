// A throwaway workspace for the chaos test that runs the repository's example agents on Postgres:
//
// - file-clerk (agents/file-clerk.yaml, the demo's agent): its own policy (policies/file-clerk:
//   reading an invoice notifies finance, every write waits for an ops lead) and its own tool
//   server, the reference MCP filesystem server, over a copy of examples/demo/workspace. Its
//   server runs with tool-call-tap.mjs preloaded, which appends every call the server receives to
//   tool-calls.jsonl. Its scripted model lists the invoices, reads one and writes a summary named
//   after the request (reports/<request>.md), so each run's write is counted apart.
// - order-desk (examples/business-app): its own definition, script and policy; an answer that
//   promises a refund waits for a support lead.
//
// What the copy changes, and why: the tool server runs with the tap (counted at the tool); the
// clerk's look-around tools are declared idempotent (they read, so a step cut by a kill retries
// them instead of holding the run; the write stays non-idempotent); its run time limit allows for
// the chaos around it (a run waits for workers killed under it and for an approval).
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolvePackageBin } from '@aifactory/execution';
import { parse, stringify } from 'yaml';
import type { CourierWorkspace } from '../fixtures/courier-workspace.ts';

const repo = path.resolve(import.meta.dirname, '..', '..');
const tap = pathToFileURL(path.join(import.meta.dirname, 'tool-call-tap.mjs')).href;

/** One call a tool server received (tool-call-tap.mjs). */
export interface ToolCall {
  tool: string;
  args: Record<string, unknown>;
  /** The process that drove the run (the tool server's parent). */
  pid: number;
  /** When the tool server received it (ms since the epoch, this machine's clock). */
  at: number;
}

/** The example workspace on disk, bound to one Postgres schema. */
export interface ExampleWorkspace extends Omit<CourierWorkspace, 'calls'> {
  /** The folder the file clerk's filesystem server serves. */
  shared: string;
  /** The file every tool call is appended to. */
  callsFile: string;
  calls(): ToolCall[];
}

/** Writes the workspace; `env` carries DATABASE_URL, the schema and the lease. */
export function createExampleWorkspace(options: { databaseUrl: string; schema: string; leaseMs: number }): ExampleWorkspace {
  const dir = mkdtempSync(path.join(tmpdir(), 'aif-chaos-'));
  const home = path.join(dir, '.factory');
  const shared = path.join(dir, 'shared');
  const callsFile = path.join(dir, 'tool-calls.jsonl');
  cpSync(path.join(repo, 'examples', 'demo', 'workspace'), shared, { recursive: true });
  mkdirSync(path.join(shared, 'reports'), { recursive: true });
  mkdirSync(path.join(dir, 'agents', 'scripts'), { recursive: true });

  // The file clerk: the example's definition and policy, its server behind the tap.
  const clerk = parse(readFileSync(path.join(repo, 'agents', 'file-clerk.yaml'), 'utf8')) as {
    spec: {
      model: { id: string; script: string };
      tools: Array<Record<string, unknown>>;
      policies: string[];
      limits: Record<string, unknown>;
    };
  };
  const [fs] = clerk.spec.tools;
  if (!fs || fs.package !== '@modelcontextprotocol/server-filesystem')
    throw new Error('agents/file-clerk.yaml no longer uses the filesystem server');
  const filesystemServer = resolvePackageBin('@modelcontextprotocol/server-filesystem', {
    from: [path.join(repo, 'packages', 'execution')],
  }).script;
  delete fs.package;
  fs.command = process.execPath;
  // The calls file in the preload's URL as it is (no escaping): the test finds the server's process by it.
  fs.args = ['--import', `${tap}?${callsFile}`, filesystemServer, shared];
  fs.idempotent = ['list_directory', 'directory_tree', 'read_text_file', 'get_file_info', 'search_files'];
  // A scripted model finds its script by its id (scripted:<name> → agents/scripts/<name>.yaml).
  clerk.spec.model.id = 'scripted:file-clerk.chaos';
  clerk.spec.model.script = './scripts/file-clerk.chaos.yaml';
  clerk.spec.policies = [path.join(repo, 'policies', 'file-clerk', 'policy.yaml')];
  clerk.spec.limits = { ...clerk.spec.limits, max_duration: '30m' };
  writeFileSync(path.join(dir, 'agents', 'file-clerk.yaml'), stringify(clerk));
  const request = '{{last_user_message}}';
  writeFileSync(
    path.join(dir, 'agents', 'scripts', 'file-clerk.chaos.yaml'),
    stringify({
      description: 'File clerk under chaos: looks, reads an invoice, writes a summary named after the request.',
      scenarios: [
        {
          turns: [
            { tool_calls: [{ name: 'fs.list_directory', args: { path: 'invoices' } }] },
            { tool_calls: [{ name: 'fs.read_text_file', args: { path: 'invoices/invoice-1042.txt' } }] },
            {
              tool_calls: [
                { name: 'fs.write_file', args: { path: `reports/${request}.md`, content: `# Invoice 1042\n\nSummary for ${request}.\n` } },
              ],
            },
            { say: `Filed the summary for ${request}: {{last_tool_result}}` },
          ],
        },
      ],
    }),
  );

  // The order desk, as examples/business-app ships it.
  const desk = parse(readFileSync(path.join(repo, 'examples', 'business-app', 'workspace', 'agents', 'order-desk.yaml'), 'utf8')) as {
    spec: { model: { id: string; script: string }; policies: string[] };
  };
  const deskDir = path.join(repo, 'examples', 'business-app', 'workspace', 'agents');
  cpSync(path.resolve(deskDir, desk.spec.model.script), path.join(dir, 'agents', 'scripts', path.basename(desk.spec.model.script)));
  desk.spec.policies = desk.spec.policies.map((policy) => path.resolve(deskDir, policy));
  writeFileSync(path.join(dir, 'agents', 'order-desk.yaml'), stringify(desk));

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    USER: 'tester',
    NO_COLOR: '1',
    AIFACTORY_HOME: home,
    DATABASE_URL: options.databaseUrl,
    AIFACTORY_DB_SCHEMA: options.schema,
    AIFACTORY_LEASE_MS: String(options.leaseMs),
  };
  // The calls read so far, and how far: the test asks often (every few ms while it waits for a
  // worker's next call), so only what was appended since is read and parsed.
  const calls: ToolCall[] = [];
  let read = 0;
  let partial = '';
  return {
    dir,
    home,
    shared,
    callsFile,
    env,
    calls() {
      if (!existsSync(callsFile)) return [];
      const size = statSync(callsFile).size;
      if (size > read) {
        const chunk = Buffer.alloc(size - read);
        const file = openSync(callsFile, 'r');
        try {
          read += readSync(file, chunk, 0, chunk.length, read);
        } finally {
          closeSync(file);
        }
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line) calls.push(JSON.parse(line) as ToolCall);
      }
      return [...calls];
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
