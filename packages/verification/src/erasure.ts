// Erasure without breaking proofs: a data subject's payloads are removed with their salts and a
// tombstone (erased_at) is left. The chain covers only each payload's salted hash, so every hash,
// link and seal still verifies, and verify reports the run as intact with N erased payloads.
// The store's append-only trigger lets exactly this update through and nothing else.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { queryRows, storeFailure } from './store-access.ts';

/** Which payloads to erase. At least one of runId and subject. */
export interface ErasureRequest {
  /** Only this run's events. */
  runId?: string;
  /** Only these seqs (with runId). */
  seqs?: number[];
  /** Only payloads that contain this value (an email, a customer id, a redaction placeholder). */
  subject?: string;
  /** Erasure time (tests). */
  now?: Date;
}

/** What was erased. */
export interface ErasureResult {
  /** Events whose payload was erased now. */
  erased: Array<{ runId: string; seq: number; type: string }>;
  /** Runs whose stored input was cleared too (their run.started payload was erased). */
  inputsCleared: string[];
}

/** Erases matching payloads; idempotent (already-erased events are left as they are). */
export async function erasePayloads(store: Store, request: ErasureRequest): Promise<ErasureResult> {
  if (request.runId === undefined && (request.subject === undefined || request.subject === '')) {
    throw new UserError(
      ErrorCode.InputInvalid,
      'Erasure needs a run id, a subject, or both; erasing every payload in the store is not offered.',
    );
  }
  if (request.subject !== undefined && request.subject.length < 3) {
    throw new UserError(ErrorCode.InputInvalid, `Subject '${request.subject}' is too short to match safely; give at least 3 characters.`, {
      location: { path: 'subject' },
    });
  }
  if (request.seqs && request.runId === undefined)
    throw new UserError(ErrorCode.InputInvalid, 'Erasing by seq needs the run id.', { location: { path: 'seqs' } });
  for (const seq of request.seqs ?? []) {
    if (!Number.isInteger(seq) || seq < 1)
      throw new UserError(ErrorCode.InputInvalid, `Seq '${seq}' is not a positive integer.`, { location: { path: 'seqs' } });
  }
  const conditions = ['erased_at IS NULL'];
  const params: unknown[] = [];
  if (request.runId !== undefined) {
    params.push(request.runId);
    conditions.push(`run_id = $${params.length}`);
    const [run] = await queryRows(store, 'SELECT id FROM runs WHERE id = $1', [request.runId]);
    if (!run) throw new UserError(ErrorCode.NotFound, `Run '${request.runId}' does not exist.`);
  }
  if (request.seqs && request.seqs.length > 0) {
    params.push(JSON.stringify(request.seqs));
    conditions.push(`seq IN (SELECT value::int FROM json_array_elements_text($${params.length}::json))`);
  }
  if (request.subject !== undefined) {
    params.push(request.subject);
    conditions.push(`strpos(payload, $${params.length}) > 0`);
  }
  params.push((request.now ?? new Date()).toISOString());
  try {
    const erased = await queryRows<{ run_id: string; seq: number; type: string }>(
      store,
      `UPDATE events SET payload = NULL, payload_salt = NULL, erased_at = $${params.length}::timestamptz WHERE ${conditions.join(' AND ')} RETURNING run_id, seq, type`,
      params,
    );
    const started = [...new Set(erased.filter((row) => Number(row.seq) === 1).map((row) => row.run_id))];
    if (started.length > 0) {
      // The runs row keeps a copy of run.started's input; it goes with the payload.
      await queryRows(store, 'UPDATE runs SET input = NULL WHERE id IN (SELECT json_array_elements_text($1::json))', [
        JSON.stringify(started),
      ]);
    }
    return {
      erased: erased
        .map((row) => ({ runId: row.run_id, seq: Number(row.seq), type: row.type }))
        .sort((left, right) => left.runId.localeCompare(right.runId) || left.seq - right.seq),
      inputsCleared: started,
    };
  } catch (error) {
    throw storeFailure('erase payloads', error);
  }
}
