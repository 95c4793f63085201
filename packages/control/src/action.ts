// What the control plane is asked about: an action an agent wants to take, and the facts around
// it. These are the CEL variables of a condition (see docs/policy-language.md).
import type { Principal } from '@aifactory/core';

/** The kinds of boundary-crossing actions an agent takes. */
export type ActionKind = 'tool' | 'model' | 'retrieval' | 'handoff' | 'answer';

/** Every action kind, in documentation order. */
export const ACTION_KINDS: readonly ActionKind[] = Object.freeze(['tool', 'model', 'retrieval', 'handoff', 'answer'] as const);

/** True when the value is one of the action kinds. */
export function isActionKind(value: unknown): value is ActionKind {
  return typeof value === 'string' && (ACTION_KINDS as readonly string[]).includes(value);
}

/** The agent taking an action (CEL `agent`). */
export interface ActionAgent {
  /** Agent name, e.g. `refund-bot`. */
  id: string;
  /** Owning team, e.g. `finance`. */
  team?: string;
  /** Free-form labels from the agent definition. */
  tags?: string[];
}

/** Counters of the run so far, before this action (CEL `run`). */
export interface RunCounters {
  /** Agent steps so far (each model turn is a step). */
  steps: number;
  /** Tool calls made so far. */
  tool_calls: number;
  /** Model tokens spent so far (input + output). */
  tokens: number;
  /** Money spent so far, in US dollars. */
  cost_usd: number;
  /** Milliseconds since the run started. */
  elapsed_ms: number;
}

/** The run an action belongs to (CEL `run`). */
export interface ActionRun extends RunCounters {
  /** Run id. */
  id: string;
}

/** One action an agent wants to take, as decide() sees it (CEL `action`, `agent`, `principal`, `run`). */
export interface Action {
  /** What crosses the boundary: a tool call, a model call, a retrieval, a hand-off or the final answer. */
  kind: ActionKind;
  /** Tool name, model id, collection, target agent, or `answer`. */
  name: string;
  /** Arguments of the action (tool input, retrieval query, ...). */
  args: Record<string, unknown>;
  /** The agent acting. */
  agent: ActionAgent;
  /** On whose behalf. */
  principal: Principal;
  /** The run so far. */
  run: ActionRun;
}

/** A knowledge collection the run has touched, with its data classifications. */
export interface CollectionClassification {
  /** Collection name. */
  name: string;
  /** Classifications of the data it holds, e.g. `pii`, `confidential`. */
  classifications: string[];
}

/** Facts around an action that are not part of it (CEL `data`, `now`). */
export interface DecisionContext {
  /** Data the run has touched so far. */
  data?: {
    /** Union of the classifications of everything the run has read so far. */
    classifications: string[];
    /** The collections read so far, each with its classifications. */
    collections?: CollectionClassification[];
  };
  /** The model registry's entry of the model a `model` action calls (CEL `model`); `{registered: false}` when the registry has none. */
  model?: ModelRegistryEntry;
  /** The latest recorded evaluation of what a promotion promotes (CEL `eval`); `{found: false, passed: false}` when there is none. */
  eval?: EvalContext;
  /** The decision time; pass the recorded clock so a replay decides the same. Defaults to the current time when a condition reads `now`. */
  now?: Date;
}

/** A model as the model registry describes it (CEL `model`). */
export interface ModelRegistryEntry {
  /** Whether `models/*.yaml` registers the model. */
  registered: boolean;
  /** `provider:model`. */
  id?: string;
  /** The registered version. */
  version?: string;
  /** Who answers for the model. */
  owner?: string;
  /** Data classifications the model is cleared for, e.g. `public`, `internal`, `pii`. */
  classifications?: string[];
  /** Where the provider processes data, e.g. `eu`, `us`. */
  residency?: string[];
}

/** An evaluation's result as a promotion sees it (CEL `eval`). */
export interface EvalContext {
  /** Whether an evaluation of the promoted version was recorded. */
  found: boolean;
  /** Whether it met every threshold of its suite. */
  passed: boolean;
  /** Its scores by name (`accuracy`, assertion names, `recall_at_k`, `mrr`). */
  scores: Record<string, number>;
  /** The suite's name. */
  suite?: string;
  /** The eval record's id. */
  record?: string;
}
