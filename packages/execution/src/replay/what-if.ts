// What-if: re-decides every recorded action of a run under other policies and lists each
// decision that would change. Where a change alters the path — an action that ran would now be
// held or denied, or one that was held or denied would now run — the run would have gone
// differently from there on, so the analysis says so and stops at that step.
import { authorityRank, decide, decidingRules, transitionRule, type Authority, type PolicyRef, type PolicySet } from '@aifactory/control';
import { recordedActions, type RecordedAction, type RecordedActionsOptions } from './recorded-actions.ts';
import type { RecordedRun } from './recorded-run.ts';

/** A decision that would change. */
export interface DecisionChange {
  step: number;
  kind: string;
  name: string;
  args: Record<string, unknown>;
  from: Authority;
  to: Authority;
  /** Deciding rules as recorded and under the candidate policies (`policy/rule` or `(default)`). */
  fromRules: string[];
  toRules: string[];
  /** The rule the change is charged to (see transitionRule). */
  rule: string;
  /** The candidate decision's reason. */
  reason: string;
  /** Whether the run would have taken another path from this step on. */
  altersPath: boolean;
  /** The recorded arguments were masked or redacted, so the re-decision saw masked values. */
  maskedArgs: boolean;
}

/** The what-if of one run. */
export interface WhatIfReport {
  runId: string;
  policies: PolicyRef[];
  policySetHash: string;
  /** Recorded decisions re-decided (up to and including the step where the path changes). */
  decided: number;
  /** Recorded decisions in the run. */
  recorded: number;
  changes: DecisionChange[];
  /** Where the path changes; decisions after it are not re-decided. */
  pathAltered: { step: number; explanation: string } | null;
}

type Course = 'runs' | 'held' | 'denied';

function course(authority: Authority): Course {
  return authority === 'deny' ? 'denied' : authority === 'require_approval' ? 'held' : 'runs';
}

/** Whether going from `from` to `to` changes what happens next (see the file comment). */
export function altersPath(entry: Pick<RecordedAction, 'approval'>, from: Authority, to: Authority): boolean {
  const before = course(from);
  const after = course(to);
  if (before === after) return false;
  // A held action that was approved ran; under a policy that lets it run, the path is the same
  // (only the wait is gone).
  if (before === 'held' && after === 'runs' && entry.approval === 'approved') return false;
  return true;
}

/** Re-decides `actions` under `policies`, each change with its rule; all of them, no stop. */
export function redecide(
  actions: readonly RecordedAction[],
  policies: PolicySet,
): Array<{ entry: RecordedAction; change: DecisionChange | null }> {
  return actions.map((entry) => {
    const decision = decide(policies, entry.action, entry.context);
    if (decision.authority === entry.recorded.authority) return { entry, change: null };
    const change: DecisionChange = {
      step: entry.step,
      kind: entry.action.kind,
      name: entry.action.name,
      args: entry.action.args,
      from: entry.recorded.authority,
      to: decision.authority,
      fromRules: decidingRules(entry.recorded),
      toRules: decidingRules(decision),
      rule: transitionRule(entry.recorded, decision),
      reason: decision.reason,
      altersPath: altersPath(entry, entry.recorded.authority, decision.authority),
      maskedArgs: entry.masked,
    };
    return { entry, change };
  });
}

/** What-if of one recorded run under `policies`. */
export function whatIf(run: RecordedRun, policies: PolicySet, options: RecordedActionsOptions = {}): WhatIfReport {
  const actions = recordedActions(run, options);
  const changes: DecisionChange[] = [];
  let decided = 0;
  let pathAltered: WhatIfReport['pathAltered'] = null;
  for (const { change } of redecide(actions, policies)) {
    decided += 1;
    if (!change) continue;
    changes.push(change);
    if (change.altersPath) {
      pathAltered = { step: change.step, explanation: pathExplanation(change) };
      break;
    }
  }
  return {
    runId: run.id,
    policies: [...policies.policies],
    policySetHash: policies.hash,
    decided,
    recorded: actions.length,
    changes,
    pathAltered,
  };
}

function pathExplanation(change: DecisionChange): string {
  const subject = `the ${change.kind} '${change.name}' at step ${change.step}`;
  if (change.to === 'deny')
    return `${subject} would be denied (${change.toRules.join(', ')}); the run would have gone differently from here, so later steps are not re-decided.`;
  if (change.to === 'require_approval')
    return `${subject} would wait for approval (${change.toRules.join(', ')}); what follows depends on that approval, so later steps are not re-decided.`;
  const was = authorityRank(change.from) >= authorityRank('deny') ? 'denied' : 'held and not approved';
  return `${subject} was ${was} but would now run; its outcome was never recorded, so later steps are not re-decided.`;
}
