// `factory tools`: what an agent's MCP servers offer it. `tools list --json` prints
// `{tools: [{name, description, inputSchema}]}`, the format `factory policy lint --tools` reads,
// so policies are type-checked against the tools the agent really gets.
import { findAgent } from '@aifactory/execution/agents';
import { ToolHost, type ServerToolDescriptor, type ToolDescriptor } from '@aifactory/execution/tools';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, withJson, type CommonOptions } from '../command-kit.ts';

/** What the tools commands take from whoever wires the CLI together (tests pass their own). */
export interface ToolsCommandOptions {
  /** Folder agents are looked up in by name (default `agents`, or `--agents`). */
  agentsDirectory?: string;
  /** Environment for `${env:NAME}` in agent definitions (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Folder `${dataDir}` stands for (default AIFACTORY_HOME, else ./.factory). */
  dataDirectory?: string;
}

interface ListCommandOptions extends CommonOptions {
  agents?: string;
  all?: boolean;
}

/** One tool as `tools list --json` prints it. */
interface ListedTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  /** Present with --all only: whether the agent may call it. */
  allowed?: boolean;
}

/** Registers the `factory tools` commands. */
export function registerToolsCommands(program: Command, options: ToolsCommandOptions = {}): Command {
  const tools = program
    .command('tools')
    .description('Inspect the MCP tools an agent gets from its servers.')
    .addHelpText(
      'after',
      '\nExamples:\n  factory tools list file-clerk\n  factory tools list agents/support-triage.yaml --all\n  factory tools list file-clerk --json > tools.json && factory policy lint policies/file-clerk.yaml --tools tools.json',
    );

  withJson(
    tools
      .command('list')
      .description("Start an agent's MCP servers and list the tools its allow-lists let it call, with their input schemas.")
      .argument('<agent>', 'agent name (looked up in the agents folder) or path to its .yaml file')
      .option('--agents <dir>', 'folder of agent definitions', options.agentsDirectory ?? 'agents')
      .option('--all', 'also list the tools the allow-lists leave out, marked as not allowed'),
  ).action(
    action(async (reference: string, commandOptions: ListCommandOptions) => {
      const definition = await findAgent(reference, {
        directory: commandOptions.agents ?? options.agentsDirectory ?? 'agents',
        ...(options.env ? { env: options.env } : {}),
        ...(options.dataDirectory ? { dataDirectory: options.dataDirectory } : {}),
      });
      const host = definition.tools.length > 0 ? await ToolHost.connect(definition.tools) : undefined;
      try {
        const descriptors: Array<ToolDescriptor | ServerToolDescriptor> = host ? (commandOptions.all ? host.listAll() : host.list()) : [];
        const listed: ListedTool[] = descriptors.map((tool) => ({
          name: tool.name,
          description: tool.description ?? '',
          inputSchema: tool.inputSchema,
          ...(commandOptions.all ? { allowed: (tool as ServerToolDescriptor).allowed } : {}),
        }));
        const warnings = host?.warnings ?? [];
        if (!commandOptions.json) for (const warning of warnings) process.stderr.write(`${pc.yellow('warning')}: ${warning}\n`);
        emit(commandOptions, { agent: definition.name, tools: listed, ...(warnings.length > 0 ? { warnings } : {}) }, () =>
          renderTools(
            definition.name,
            definition.tools.map((server) => server.name),
            descriptors,
          ),
        );
      } finally {
        await host?.close();
      }
    }),
  );
  return tools;
}

function renderTools(agent: string, servers: string[], descriptors: Array<ToolDescriptor | ServerToolDescriptor>): string {
  if (servers.length === 0) return `Agent ${agent} has no MCP servers.`;
  const allowed = descriptors.filter((tool) => !('allowed' in tool) || tool.allowed).length;
  const lines = [`Agent ${pc.bold(agent)}: ${allowed} tool${allowed === 1 ? '' : 's'} from ${servers.join(', ')}`];
  for (const tool of descriptors) {
    const refused = 'allowed' in tool && !tool.allowed;
    lines.push('');
    lines.push(
      `${refused ? pc.dim(tool.name) : pc.bold(tool.name)}  ${pc.dim(`model name ${tool.modelName}`)}${refused ? pc.yellow('  not allowed') : ''}`,
    );
    const summary = firstSentence(tool.description ?? '');
    if (summary) lines.push(`  ${summary}`);
    lines.push(`  args: ${describeArguments(tool.inputSchema)}`);
  }
  return lines.join('\n');
}

function firstSentence(text: string): string {
  const paragraph =
    text
      .trim()
      .split(/\n\s*\n/)[0]
      ?.replace(/\s+/g, ' ') ?? '';
  const sentence = /^(.+?[.!?])(\s|$)/.exec(paragraph)?.[1] ?? paragraph;
  return sentence.length > 140 ? `${sentence.slice(0, 137)}...` : sentence;
}

/** `path: string, head?: number` from an object schema. */
function describeArguments(schema: Record<string, unknown>): string {
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const names = Object.keys(properties);
  if (names.length === 0) return '(none)';
  return names.map((name) => `${name}${required.has(name) ? '' : '?'}: ${describeType(properties[name] ?? {})}`).join(', ');
}

function describeType(schema: Record<string, unknown>): string {
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (schema.type === 'array') return `${describeType((schema.items ?? {}) as Record<string, unknown>)}[]`;
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  if (typeof schema.type === 'string') return schema.type;
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Array<Record<string, unknown>>).map(describeType).join(' | ');
  return 'any';
}
