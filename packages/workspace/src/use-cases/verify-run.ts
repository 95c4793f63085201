// Use case: verify one run — its hash chain and its seal — trusting the workspace's own seal key,
// so a run sealed by another key (or not reaching this key's anchor) does not verify as ours.
import type { Store } from '@aifactory/store';
import { verifyRun, type SealSigner, type VerificationReport } from '@aifactory/verification';

/** Verifies `runId` in the workspace's store, pinning its signer. */
export function verifyWorkspaceRun(parts: { store: Store; signer: SealSigner }, runId: string): Promise<VerificationReport> {
  return verifyRun(parts.store, runId, { signers: [parts.signer] });
}
