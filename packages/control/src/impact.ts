// Impact of a policy change on recorded actions: pure aggregation of authority transitions
// (recorded decision -> decision under the candidate policies) into the table a risk officer
// reads before rollout (`37 autonomous -> require_approval` under rule X) and the verdict a CI
// job gates on.
import { authorityRank, type Authority } from './authority.ts';
import type { Decision } from './decision.ts';

/** One recorded action whose authority would change. */
export interface AuthorityTransition {
  runId: string;
  step: number;
  kind: string;
  name: string;
  from: Authority;
  to: Authority;
  /** The rule that decides the change (`policy/rule`), or `(default)` when a default authority does. */
  rule: string;
}

/** One line of the impact table. */
export interface ImpactRow {
  rule: string;
  from: Authority;
  to: Authority;
  /** Actions with this transition. */
  count: number;
  /** Distinct runs holding them. */
  runs: number;
}

/** What a candidate policy set would change over the recorded actions it was run on. */
export interface ImpactSummary {
  /** Recorded actions re-decided. */
  actions: number;
  /** Runs looked at. */
  runs: number;
  /** Actions whose authority changes. */
  changed: number;
  /** Actions that would now be denied and were not. */
  newDenies: number;
  /** Actions that would now wait for approval and did not. */
  newApprovals: number;
  /** Transitions grouped by rule, from and to; most frequent first. */
  rows: ImpactRow[];
  /** Runs with at least one change, in first-seen order. */
  affectedRuns: string[];
}

/** When `policy impact` fails a CI job. */
export type ImpactGate = 'new-deny' | 'new-approval' | 'any-change';

/** The gates `--fail-on` accepts. */
export const IMPACT_GATES: readonly ImpactGate[] = Object.freeze(['new-deny', 'new-approval', 'any-change'] as const);

/** The rules that produced a decision's authority (`policy/rule`), or `(default)`. */
export function decidingRules(decision: Pick<Decision, 'authority' | 'rules'>): string[] {
  const rules = decision.rules.filter((rule) => rule.authority === decision.authority).map((rule) => `${rule.policy}/${rule.ruleId}`);
  return rules.length > 0 ? rules : ['(default)'];
}

/**
 * The rule a transition is charged to: the candidate's deciding rule when the outcome gets
 * stricter (that rule now restricts), the recorded deciding rule when it loosens (that rule no
 * longer holds the action back, or was changed).
 */
export function transitionRule(from: Pick<Decision, 'authority' | 'rules'>, to: Pick<Decision, 'authority' | 'rules'>): string {
  const stricter = authorityRank(to.authority) >= authorityRank(from.authority);
  return (stricter ? decidingRules(to) : decidingRules(from)).join(', ');
}

/** Groups transitions into the impact table. */
export function aggregateImpact(transitions: readonly AuthorityTransition[], totals: { actions: number; runs: number }): ImpactSummary {
  const rows = new Map<string, ImpactRow & { runIds: Set<string> }>();
  const affected = new Set<string>();
  let newDenies = 0;
  let newApprovals = 0;
  for (const transition of transitions) {
    affected.add(transition.runId);
    if (transition.to === 'deny' && transition.from !== 'deny') newDenies += 1;
    if (transition.to === 'require_approval' && authorityRank(transition.from) < authorityRank('require_approval')) newApprovals += 1;
    const key = `${transition.rule}\u0000${transition.from}\u0000${transition.to}`;
    let row = rows.get(key);
    if (!row) {
      row = { rule: transition.rule, from: transition.from, to: transition.to, count: 0, runs: 0, runIds: new Set() };
      rows.set(key, row);
    }
    row.count += 1;
    row.runIds.add(transition.runId);
  }
  const table = [...rows.values()]
    .map(({ runIds, ...row }) => ({ ...row, runs: runIds.size }))
    .sort(
      (left, right) =>
        right.count - left.count ||
        left.rule.localeCompare(right.rule) ||
        left.from.localeCompare(right.from) ||
        left.to.localeCompare(right.to),
    );
  return {
    actions: totals.actions,
    runs: totals.runs,
    changed: transitions.length,
    newDenies,
    newApprovals,
    rows: table,
    affectedRuns: [...affected],
  };
}

/** Whether an impact summary trips a CI gate. */
export function impactFails(summary: ImpactSummary, gate: ImpactGate): boolean {
  if (gate === 'new-deny') return summary.newDenies > 0;
  if (gate === 'new-approval') return summary.newApprovals > 0 || summary.newDenies > 0;
  return summary.changed > 0;
}
