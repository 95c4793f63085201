// A run's owner checks its lease before every tool call; a renewal the store confirmed less than
// half a lease ago answers that check without a round trip. These tests hold the part that keeps
// it safe: a lease cannot be taken over while such a renewal is fresh, and an owner that was
// paused (its heartbeat stopped) past that goes to the store and is refused once another took over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type AiFactoryError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { acquireRunLease } from '@aifactory/verification/internal';
import { RunOwnership } from '../../src/index.ts';
import { engines } from '../approvals/engines.ts';

// Short leases where a test waits one out; long ones where a stall of a loaded machine must not
// let a lease lapse under a test that expects it held.
const ttlMs = 600;
const longTtlMs = 5000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const engine of engines) {
  describe.skipIf(engine.skip)(`run ownership (${engine.name})`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await engine.open();
    });
    afterAll(async () => {
      await engine.dispose(store);
    });

    /** A run whose first lease `owner` took, as startRun does, adopted with the stamp taken before. */
    async function started(owner: RunOwnership, runId: string): Promise<void> {
      const askedAt = owner.stamp();
      expect(await acquireRunLease(store, runId, owner.owner, { ttlMs: owner.ttlMs, acquisition: 'new' })).toBeDefined();
      owner.adopt(runId, 1, askedAt);
    }

    it('no other process can take a lease over while its owner’s last confirmed renewal is fresh', async () => {
      const owner = new RunOwnership({ store, owner: 'owner-a', ttlMs: longTtlMs });
      const rival = new RunOwnership({ store, owner: 'owner-b', ttlMs: longTtlMs });
      await started(owner, 'run_fresh');
      owner.close();
      // Within half a lease of the renewal: the owner acts, and the lease is still its own.
      await owner.ensureCanAct('run_fresh', 'call a tool');
      expect(await rival.takeOver('run_fresh')).toBeUndefined();
      expect(owner.owns('run_fresh')).toBe(true);
    });

    it('an owner paused past half its lease checks with the store before it acts, and is refused (LEASE_LOST) once another process took the run over', async () => {
      const owner = new RunOwnership({ store, owner: 'owner-a', ttlMs });
      const rival = new RunOwnership({ store, owner: 'owner-b', ttlMs });
      await started(owner, 'run_paused');
      // Paused: no heartbeat renews the lease, which lapses; the rival takes the run over.
      owner.close();
      await sleep(ttlMs + 100);
      expect(await rival.takeOver('run_paused')).toBe(2);
      rival.close();
      const error = (await owner.ensureCanAct('run_paused', 'call a tool').catch((caught: unknown) => caught)) as AiFactoryError;
      expect(error.code).toBe(ErrorCode.LeaseLost);
      expect(owner.owns('run_paused')).toBe(false);
      // Refused from then on, without asking again.
      await expect(owner.ensureCanAct('run_paused', 'call a tool')).rejects.toMatchObject({ code: ErrorCode.LeaseLost });
    });
  });
}
