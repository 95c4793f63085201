// A verification worker: opens its own connection and verifies the runs in one range of run ids,
// so verifyAll can use every core. Reports are plain data, posted back once.
import { parentPort, workerData } from 'node:worker_threads';
import { openStore, type StoreOptions } from '@aifactory/store';
import type { TrustedKeys, VerificationReport } from './chain-verifier.ts';
import { verifyEventRange, type RangeResult } from './verify.ts';

const input = workerData as { storeOptions: StoreOptions; range: { fromRun?: string; beforeRun?: string }; trusted: TrustedKeys; pageSize: number };
try {
  const store = await openStore({ ...input.storeOptions, migrate: false, maxConnections: 2 });
  const result: RangeResult = { runs: 0, events: 0, erased: 0, sealed: 0, failed: 0, failures: [], warnings: [] };
  try {
    await verifyEventRange(store, input.range, input.trusted, input.pageSize, (report: VerificationReport) => {
      result.runs += 1;
      result.events += report.events;
      result.erased += report.erased;
      if (report.sealed) result.sealed += 1;
      for (const warning of report.warnings) if (result.warnings.length < 100) result.warnings.push(warning);
      if (!report.ok) {
        result.failed += 1;
        if (result.failures.length < 100) result.failures.push(report);
      }
    });
  } finally {
    await store.close();
  }
  parentPort!.postMessage({ result });
} catch (error) {
  parentPort!.postMessage({ error: (error as Error).message ?? String(error) });
}
