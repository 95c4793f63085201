// @aifactory/langchain public API: anything exported here is public API.
// Governance for LangChain agents: one middleware line gives createAgent aifactory's decisions,
// write-ahead record, approvals (through LangGraph interrupts) and a verifiable run.
export { governance } from './governance-middleware.ts';
export type { GovernanceInterrupt, GovernanceOptions, GovernedThreads } from './governance-middleware.ts';
