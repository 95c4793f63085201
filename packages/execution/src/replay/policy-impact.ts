// Impact of candidate policies over many recorded runs: every recorded action re-decided, the
// authority transitions grouped per rule, the runs affected, and where each run's path changes.
import { aggregateImpact, type AuthorityTransition, type ImpactSummary, type PolicyRef, type PolicySet } from '@aifactory/control';
import type { Store } from '@aifactory/store';
import { listRuns, type RunFilter } from '@aifactory/verification';
import { recordedActions, type RecordedAction } from './recorded-actions.ts';
import { loadRecordedRun } from './recorded-run.ts';
import { redecide } from './what-if.ts';

/** The impact of a policy set over recorded runs. */
export interface PolicyImpactReport extends ImpactSummary {
  policies: PolicyRef[];
  policySetHash: string;
  /** Per affected run: the first step whose change alters its path, if any. */
  pathChanges: Array<{ runId: string; step: number; from: string; to: string; name: string }>;
  /** Every transition, in run and step order (for --json and drill-down). */
  transitions: AuthorityTransition[];
  /** Milliseconds spent loading runs and spent re-deciding. */
  timings: { loadMs: number; analyseMs: number };
}

/** Re-decides already loaded actions (runs grouped by runId) and aggregates; pure apart from the clock. */
export function impactOfActions(
  actions: readonly RecordedAction[],
  policies: PolicySet,
  runCount: number,
): Omit<PolicyImpactReport, 'timings'> {
  const transitions: AuthorityTransition[] = [];
  const pathChanges: PolicyImpactReport['pathChanges'] = [];
  const altered = new Set<string>();
  for (const { entry, change } of redecide(actions, policies)) {
    if (!change) continue;
    transitions.push({
      runId: entry.runId,
      step: change.step,
      kind: change.kind,
      name: change.name,
      from: change.from,
      to: change.to,
      rule: change.rule,
    });
    if (change.altersPath && !altered.has(entry.runId)) {
      altered.add(entry.runId);
      pathChanges.push({ runId: entry.runId, step: change.step, from: change.from, to: change.to, name: change.name });
    }
  }
  const summary = aggregateImpact(transitions, { actions: actions.length, runs: runCount });
  return { ...summary, policies: [...policies.policies], policySetHash: policies.hash, pathChanges, transitions };
}

/** Loads the runs matching `filter` (replays excluded) and reports what `policies` would change. */
export async function policyImpact(store: Store, policies: PolicySet, filter: RunFilter = {}): Promise<PolicyImpactReport> {
  const loadStarted = performance.now();
  const actions: RecordedAction[] = [];
  let runCount = 0;
  for await (const summary of listRuns(store, filter)) {
    if (summary.replayOf) continue;
    runCount += 1;
    actions.push(...recordedActions(await loadRecordedRun(store, summary.id)));
  }
  const loadMs = performance.now() - loadStarted;
  const analyseStarted = performance.now();
  const report = impactOfActions(actions, policies, runCount);
  return { ...report, timings: { loadMs, analyseMs: performance.now() - analyseStarted } };
}
