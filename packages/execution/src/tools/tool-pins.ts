// Tool pinning, the defence against tool poisoning: a model reads a tool's description and schemas
// as instructions, so a server that changes them after they were reviewed (a "rug pull") can steer
// the model. Each tool's definition is pinned by hash on first sight; a later listing is held to
// that pin, and a difference is a governed event (see server/src/mcp-proxy). Pins live in the
// store's tool_pins table, one row per (server, tool); only an allowed or approved change moves one.
import { contentHash } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { insertToolPinIfAbsent, selectToolPin, selectToolPins, updateToolPinIfAt, type ToolPinRow } from './tool-pin-rows.ts';

/** The parts of an MCP tool a model reads, and so the parts that are pinned. */
export interface PinnedToolDefinition {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

/** The fields a pin covers, in the order a change lists them. */
export const pinnedFields = ['title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

/** A pinned definition as stored. */
export interface ToolPin {
  server: string;
  tool: string;
  definitionHash: string;
  definition: PinnedToolDefinition;
  runId: string;
  pinnedAt: Date;
}

/** Only the pinned fields of a tool as a server lists it (anything else it sends, e.g. _meta, is not pinned). */
export function pinnedDefinition(tool: PinnedToolDefinition): PinnedToolDefinition {
  const definition: PinnedToolDefinition = { name: tool.name };
  for (const field of pinnedFields) if (tool[field] !== undefined) (definition as unknown as Record<string, unknown>)[field] = tool[field];
  return definition;
}

/** sha256 of the canonical JSON of the pinned fields. */
export function toolDefinitionHash(tool: PinnedToolDefinition): string {
  return contentHash(pinnedDefinition(tool));
}

/** The pinned fields whose value differs between two definitions. */
export function changedFields(pinned: PinnedToolDefinition, current: PinnedToolDefinition): string[] {
  return pinnedFields.filter((field) => contentHash(pinned[field] ?? null) !== contentHash(current[field] ?? null));
}

/** The tool_pins table. */
export class ToolPinStore {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Every pin of one server, by tool name. */
  async load(server: string): Promise<Map<string, ToolPin>> {
    const rows = await selectToolPins(this.#store, server);
    return new Map(rows.map((row) => [row.tool, toPin(row)]));
  }

  /**
   * Pins a tool seen for the first time. Of two processes pinning the same tool at once the first
   * wins; the answer is the pin that stands, so the loser compares against the winner's.
   */
  async pinFirst(server: string, definition: PinnedToolDefinition, runId: string, at = new Date()): Promise<ToolPin> {
    const pinned = pinnedDefinition(definition);
    await insertToolPinIfAbsent(this.#store, {
      server,
      tool: pinned.name,
      definitionHash: toolDefinitionHash(pinned),
      definition: pinned,
      runId,
      pinnedAt: at,
    });
    const row = await selectToolPin(this.#store, server, pinned.name);
    return toPin(row!);
  }

  /** Moves a pin to a changed definition that the policy allowed or an approver accepted, if it still is at `fromHash`. */
  async repin(server: string, definition: PinnedToolDefinition, fromHash: string, runId: string, at = new Date()): Promise<boolean> {
    const pinned = pinnedDefinition(definition);
    return updateToolPinIfAt(
      this.#store,
      { server, tool: pinned.name, definitionHash: toolDefinitionHash(pinned), definition: pinned, runId, pinnedAt: at },
      fromHash,
    );
  }
}

function toPin(row: ToolPinRow): ToolPin {
  return {
    server: row.server,
    tool: row.tool,
    definitionHash: row.definitionHash,
    definition: row.definition as PinnedToolDefinition,
    runId: row.runId,
    pinnedAt: row.pinnedAt,
  };
}
