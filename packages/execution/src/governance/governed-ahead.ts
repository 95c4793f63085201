// Governance started ahead: an optional decorator of the graph's governing. As soon as a node
// knows the action the next node will take (the first tool call of a model response, or the model
// call after the last tool result), it starts deciding and durably recording it, so the commit
// overlaps LangGraph's work between the two nodes instead of following it. The next node awaits
// that verdict before it acts, so write-ahead is unchanged; it takes the verdict only for the step
// and action it was started for. In memory only: a run resumed in another process decides afresh.
// A verdict reached ahead opens no approval (GovernOptions.openApproval false): the node that parks
// the run on a hold opens it.
import { ErrorCode, SystemError, contentHash } from '@aifactory/core';
import type { ProposedAction, Verdict } from './gate.ts';

/** A verdict, or an approval already granted for exactly this step and these arguments. */
export type AheadVerdict = Verdict | { kind: 'approved' };

/** Where an action will be taken: the node, the step, and what identifies it there (a tool call's id, the model's message count). */
export interface AheadSlot {
  node: 'model' | 'tools';
  step: number;
  key: string;
}

interface AheadEntry extends AheadSlot {
  /** The arguments it was decided on. */
  args: Record<string, unknown>;
  verdict: Promise<AheadVerdict>;
}

/** Only a run whose graph stopped between two nodes leaves an entry behind; they are kept bounded. */
const maxEntries = 10_000;

/** The verdicts being reached ahead of the nodes that act on them, at most one per run. */
export class GovernedAhead {
  readonly #entries = new Map<string, AheadEntry>();

  /** Starts governing ahead for the slot: `verdict` is the decision under way for `args`. */
  start(runId: string, slot: AheadSlot, args: Record<string, unknown>, verdict: Promise<AheadVerdict>): void {
    // The node that takes it sees any failure; until then a rejection is not unhandled.
    verdict.catch(() => {});
    this.#entries.delete(runId);
    this.#entries.set(runId, { ...slot, args, verdict });
    if (this.#entries.size > maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /**
   * The verdict started for exactly this slot, to be awaited with the action the node now takes;
   * undefined when none was (the node governs the action itself).
   */
  async take(runId: string, slot: AheadSlot): Promise<((proposed: ProposedAction) => Promise<AheadVerdict>) | undefined> {
    const entry = this.#entries.get(runId);
    if (!entry) return undefined;
    this.#entries.delete(runId);
    if (entry.node === slot.node && entry.step === slot.step && entry.key === slot.key)
      return async (proposed) => sameAction(await entry.verdict, entry.args, proposed);
    // Not the action this node takes (a bug if it happens): let its commit finish, then decide afresh.
    await entry.verdict.catch(() => {});
    return undefined;
  }
}

/**
 * A verdict reached ahead must be for the very action the node now takes: the same arguments (the
 * same object, or equal JSON), else the arguments hash proves it. Anything else is a fault of
 * ours, and the action does not run (fail closed).
 */
function sameAction(verdict: AheadVerdict, decidedArgs: Record<string, unknown>, proposed: ProposedAction): AheadVerdict {
  if (
    verdict.kind === 'approved' ||
    decidedArgs === proposed.args ||
    jsonEqual(decidedArgs, proposed.args) ||
    verdict.argsHash === contentHash(proposed.args)
  )
    return verdict;
  throw new SystemError(
    ErrorCode.Internal,
    `The ${proposed.kind} '${proposed.name}' at step ${verdict.step} differs from the action decided ahead for it; it does not run.`,
  );
}

/**
 * Whether two values of plain JSON (objects, arrays, strings, finite numbers, booleans, null) are
 * equal, so their canonical JSON is too. Anything else (undefined, a Date, a class instance) is
 * reported unequal, for the caller to compare hashes instead; a few microseconds cheaper than two
 * canonical serialisations on every step.
 */
function jsonEqual(left: unknown, right: unknown, depth = 0): boolean {
  if (left === right)
    return left === null || typeof left === 'string' || typeof left === 'boolean' || (typeof left === 'number' && Number.isFinite(left));
  if (depth > 32 || left === null || right === null || typeof left !== 'object' || typeof right !== 'object') return false;
  if (Array.isArray(left)) {
    if (!Array.isArray(right) || left.length !== right.length) return false;
    for (let index = 0; index < left.length; index += 1) if (!jsonEqual(left[index], right[index], depth + 1)) return false;
    return true;
  }
  if (Array.isArray(right) || Object.getPrototypeOf(left) !== Object.prototype || Object.getPrototypeOf(right) !== Object.prototype)
    return false;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  for (const key of keys) {
    if (
      !Object.hasOwn(right, key) ||
      !jsonEqual((left as Record<string, unknown>)[key], (right as Record<string, unknown>)[key], depth + 1)
    )
      return false;
  }
  return true;
}
