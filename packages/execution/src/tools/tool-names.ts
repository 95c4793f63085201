// Tool names. Inside aifactory a tool is `<server>.<tool>` (what policies match on); models only
// accept function names matching ^[a-zA-Z0-9_-]{1,64}$, so every tool also has a model name,
// `<server>__<tool>`. Server names cannot contain `_` or `.`, so the first `__` always separates
// the server from the tool and the mapping is reversible.
import { sha256Hex } from '@aifactory/core';

/** What a server name must look like: a letter, then letters, digits and `-` (at most 32). */
export const serverNamePattern = /^[a-zA-Z][a-zA-Z0-9-]{0,31}$/;

/** What every model provider accepts as a function name. */
export const modelToolNamePattern = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Server names the runtime uses for its own tools (`knowledge__search`, `handoff__<agent>`);
 * an MCP server by that name would collide with them.
 */
export const reservedServerNames: readonly string[] = ['knowledge', 'handoff'];

/** Why a server name is unusable, or undefined when it is fine. */
export function serverNameProblem(name: string): string | undefined {
  if (!serverNamePattern.test(name)) {
    return `Server name '${name}' is invalid; use a letter followed by letters, digits or '-' (at most 32 characters), e.g. 'fs' or 'crm-api'.`;
  }
  if (reservedServerNames.includes(name.toLowerCase())) {
    return `Server name '${name}' is reserved for the runtime's own tools (${reservedServerNames.join(', ')}); choose another.`;
  }
  return undefined;
}

/** Splits `<server>.<tool>` at its first dot; undefined when there is no server part. */
export function splitToolName(name: string): { server: string; tool: string } | undefined {
  const dot = name.indexOf('.');
  if (dot <= 0 || dot === name.length - 1) return undefined;
  return { server: name.slice(0, dot), tool: name.slice(dot + 1) };
}

/**
 * Maps `fs.read_text_file` to `fs__read_text_file`, a name every model provider accepts.
 * Tool names with characters providers reject, or too long to fit 64 characters, get those
 * characters replaced by `_` and a short hash of the full name appended, so two tools never
 * share a model name; `fromModelToolName` with the list of names maps those back.
 */
export function toModelToolName(name: string): string {
  const parts = splitToolName(name);
  const plain = parts ? `${parts.server}__${parts.tool}` : name;
  if (modelToolNamePattern.test(plain)) return plain;
  const suffix = `_${sha256Hex(name).slice(0, 8)}`;
  return `${plain.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64 - suffix.length)}${suffix}`;
}

/**
 * Maps a model name back to the tool name: `fs__read_text_file` to `fs.read_text_file`. With
 * `names` (the tools on offer), the answer is the one whose model name matches exactly, or
 * undefined; without, the first `__` is read as the separator.
 */
export function fromModelToolName(modelName: string, names?: Iterable<string>): string | undefined {
  if (names) {
    for (const name of names) if (toModelToolName(name) === modelName) return name;
    return undefined;
  }
  const separator = modelName.indexOf('__');
  if (separator <= 0 || separator === modelName.length - 2) return undefined;
  return `${modelName.slice(0, separator)}.${modelName.slice(separator + 2)}`;
}
