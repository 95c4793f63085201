// @aifactory/verification/internal: not public API. The owner API of the `runs`, `run_leases` and
// `events` rows for the planes that drive and read runs inside the workspace — execution's
// runtime and recovery (leases, orphaned and stalled runs, child runs, erasure of inputs), quality
// (runs by metadata), the server (events after a cursor) and the CLI's recovery commands — so that no package reads those
// tables around their owner. test/package-boundaries.test.ts pins which packages may import it.
export {
  acquireRunLease,
  findDecidedInDoubtRuns,
  findOrphanedRuns,
  findApprovalToApply,
  findStalledHeldRuns,
  leaseLostError,
  msUntilNextLeaseLapse,
  livenessSql,
  markRunLeaseDriving,
  releaseRunLease,
  renewRunLease,
  renewRunLeases,
} from './run-lease.ts';
export type {
  ApprovalToApply,
  LeaseAcquisition,
  LeaseGrant,
  LeaseState,
  Liveness,
  OrphanedRun,
  RunFence,
  StalledHeldRun,
} from './run-lease.ts';
export {
  countRunsByMetadata,
  distinctRunMetadata,
  findEventsAfter,
  findEventsOfType,
  findLastEvent,
  findRun,
  findRunLease,
  findRunsById,
  findRunsWhere,
  payloadObject,
  firstChildRun,
  rewriteRunInputsContaining,
} from './run-rows.ts';
export type { RunLeaseRecord, RunRecord, RunRowFilter, RunRowOrder } from './run-rows.ts';
