// Replay, what-if and policy impact over recorded runs (the execution plane re-running the
// governed graph on a trace); re-exported by the package barrel, so anything exported here is
// public API.
export { loadRecordedRun, loadRecordedEvents, eventAt } from './recorded-run.ts';
export type { RecordedRun, RecordedRunEvent, RecordedRunMetadata } from './recorded-run.ts';
export { recordedActions } from './recorded-actions.ts';
export type { RecordedAction, RecordedActionsOptions } from './recorded-actions.ts';
export { altersPath, redecide, whatIf } from './what-if.ts';
export type { DecisionChange, WhatIfReport } from './what-if.ts';
export { impactOfActions, policyImpact } from './policy-impact.ts';
export type { PolicyImpactReport } from './policy-impact.ts';
export { diffArguments, replayRun } from './replay-run.ts';
export type { ArgumentDifference, ReplayDivergence, ReplayOptions, ReplayRecorder, ReplayReport, ReplayedAction } from './replay-run.ts';
