// Finding an agent: by name in the agents folder (what the server, MCP and the SDK allow), or —
// for a local admin at the CLI only — by the path of a YAML file. A name is never turned into a
// path outside the folder: it must match the agent-name pattern (no separators, dots or
// encodings), and the file it names must resolve, symbolic links followed, inside the folder.
// Nothing outside the folder is read, and no error quotes a file's content.
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import { agentFiles, loadAgentDefinition, type AgentDefinition, type AgentLoadOptions } from './agent-definition.ts';
import { agentNamePattern } from './agent-schema.ts';

/** Options of findAgent and findAgentByName. */
export interface AgentLookupOptions extends AgentLoadOptions {
  /** The agents folder (default ./agents). */
  directory?: string;
}

/** Whether `reference` is an agent name (and so can never locate a file outside the folder). */
export function isAgentName(reference: string): boolean {
  return agentNamePattern.test(reference);
}

/**
 * Finds an agent by name in `directory` (default `./agents`) and nowhere else. A reference that
 * is not an agent name is INPUT_INVALID; a name with no agent is NOT_FOUND naming the agents there.
 */
export async function findAgentByName(name: string, options: AgentLookupOptions = {}): Promise<AgentDefinition> {
  if (!isAgentName(name)) {
    // The reference is the caller's own input; quote a bounded, printable form of it only.
    throw new UserError(
      ErrorCode.InputInvalid,
      `${quoteReference(name)} is not an agent name; agents are named (lowercase letters, digits and inner dashes, e.g. file-clerk), never located by path.`,
      {
        location: { path: 'agent' },
      },
    );
  }
  const directory = path.resolve(options.directory ?? 'agents');
  const root = await realpath(directory).catch(() => directory);
  // The usual layout is one file per agent named after it; read that one first.
  for (const extension of ['.yaml', '.yml']) {
    const candidate = path.join(directory, `${name}${extension}`);
    if (!existsSync(candidate)) continue;
    const real = await realpath(candidate);
    if (!isInside(root, real)) continue; // a symbolic link out of the folder is not an agent of it
    const definition = await loadAgentDefinition(candidate, options);
    if (definition.name === name) return definition;
  }
  const names: string[] = [];
  for (const file of await agentFiles(directory)) {
    const definition = await loadAgentDefinition(file, options);
    if (definition.name === name) return definition;
    names.push(definition.name);
  }
  throw new UserError(ErrorCode.NotFound, `No agent named '${name}' in ${directory}; agents there: ${names.join(', ') || 'none'}.`, {
    location: { path: 'agent' },
  });
}

/**
 * Loads the agent file a run recorded (its absolute path), provided it lies, symbolic links
 * followed, inside the agents folder; NOT_FOUND otherwise, without reading it.
 */
export async function loadAgentInFolder(file: string, options: AgentLookupOptions = {}): Promise<AgentDefinition> {
  const root = await realpath(path.resolve(options.directory ?? 'agents')).catch(() => path.resolve(options.directory ?? 'agents'));
  const real = path.isAbsolute(file) ? await realpath(file).catch(() => undefined) : undefined;
  if (!real || !isInside(root, real)) {
    throw new UserError(
      ErrorCode.NotFound,
      `The agent file ${quoteReference(file).replace('Agent reference ', '')} is not in the agents folder ${root}; this process runs agents from there only.`,
    );
  }
  return loadAgentDefinition(file, options);
}

/**
 * Finds an agent by name in `directory` (default `./agents`), or loads it from a path when the
 * reference ends in .yaml/.yml or contains a separator. Paths are for a local admin's CLI only;
 * anything serving other principals uses findAgentByName.
 */
export async function findAgent(reference: string, options: AgentLookupOptions = {}): Promise<AgentDefinition> {
  if (/\.ya?ml$/i.test(reference) || reference.includes('/') || reference.includes(path.sep))
    return loadAgentDefinition(reference, options);
  if (!isAgentName(reference))
    throw new UserError(ErrorCode.NotFound, `${quoteReference(reference)} is neither an agent name nor a .yaml file.`);
  return findAgentByName(reference, options);
}

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** The reference as JSON, cut at 80 characters, so control characters and NULs show escaped. */
function quoteReference(reference: string): string {
  const cut = reference.length > 80 ? `${reference.slice(0, 80)}…` : reference;
  return `Agent reference ${JSON.stringify(cut)}`;
}
