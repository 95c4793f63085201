// The tool_pins table's queries: one row per (server, tool), the pinned definition and its hash.
// tool-pins.ts (ToolPinStore) decides what to pin; this file only reads and writes the rows.
import type { Store } from '@aifactory/store';
import { toolPins } from '@aifactory/store/schema';
import { and, eq } from 'drizzle-orm';

/** A tool_pins row as stored. */
export type ToolPinRow = typeof toolPins.$inferSelect;

/** Every pin row of one server. */
export async function selectToolPins(store: Store, server: string): Promise<ToolPinRow[]> {
  return store.db.select().from(toolPins).where(eq(toolPins.server, server));
}

/** The pin row of one tool, if any. */
export async function selectToolPin(store: Store, server: string, tool: string): Promise<ToolPinRow | undefined> {
  const [row] = await store.db
    .select()
    .from(toolPins)
    .where(and(eq(toolPins.server, server), eq(toolPins.tool, tool)));
  return row;
}

/** Inserts a pin row unless the (server, tool) is pinned already (the first writer wins). */
export async function insertToolPinIfAbsent(store: Store, row: ToolPinRow): Promise<void> {
  await store.db.insert(toolPins).values(row).onConflictDoNothing();
}

/** Moves a pin row to a new definition if it still is at `fromHash`; true when it moved. */
export async function updateToolPinIfAt(store: Store, row: ToolPinRow, fromHash: string): Promise<boolean> {
  const moved = await store.db
    .update(toolPins)
    .set({ definitionHash: row.definitionHash, definition: row.definition, runId: row.runId, pinnedAt: row.pinnedAt })
    .where(and(eq(toolPins.server, row.server), eq(toolPins.tool, row.tool), eq(toolPins.definitionHash, fromHash)))
    .returning({ tool: toolPins.tool });
  return moved.length > 0;
}
