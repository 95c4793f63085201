// The one drizzle schema every plane shares. Each table has one owning package, and only that
// package's *-rows.ts files import it (eslint.config.js enforces both); everyone else goes
// through the owner's functions.
// verification: the trace.
export { events, runLeases, runs, seals, storeIdentity } from './trace.ts';
// execution: approvals, the notification outbox, recorded definitions and policies, tool pins, checkpoints.
export { approvalVotes, approvals, artifacts, notifications, policyVersions, toolPins } from './governance.ts';
export { checkpointBlobs, checkpointWrites, checkpoints } from './checkpoints.ts';
// knowledge: collections, documents, chunks.
export { chunks, collections, documents } from './knowledge.ts';
// server: API tokens.
export { apiTokens } from './access.ts';
