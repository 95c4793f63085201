// Erasure reaching the checkpoints: they are encrypted, so a subject cannot be found by SQL. Each
// stored value of the chosen threads is opened, every string containing the subject has it
// replaced by [ERASED], and the value is sealed again in place (same row, same binding), so a
// held run still resumes — without the subject.
import type { Store } from '@aifactory/store';
import type { AtRestCipher } from '@aifactory/verification';
import {
  selectCheckpointBlobs,
  selectCheckpointWrites,
  selectCheckpoints,
  updateCheckpointBlob,
  updateCheckpointValues,
  updateCheckpointWrite,
} from './checkpoint-rows.ts';
import { checkpointContexts, sealedTypePrefix } from './store-checkpoint-saver.ts';

/** What erasing a subject from checkpoints changed. */
export interface CheckpointErasureResult {
  /** Stored values (channel values, writes, checkpoints, metadata) rewritten without the subject. */
  valuesRewritten: number;
}

/** The text that replaces an erased subject wherever it stood. */
export const erasedMarker = '[ERASED]';

/** Replaces subject in every string of a JSON-like value (object keys too); returns the same value when absent. */
export function eraseSubjectInValue(value: unknown, subject: string): unknown {
  if (typeof value === 'string') return value.includes(subject) ? value.replaceAll(subject, erasedMarker) : value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, index) => {
      const erased = eraseSubjectInValue(item, subject);
      if (erased !== item) (copy ??= [...value])[index] = erased;
    });
    return copy ?? value;
  }
  if (value !== null && typeof value === 'object') {
    let changed = false;
    const entries = Object.entries(value).map(([key, item]) => {
      const erasedKey = key.includes(subject) ? key.replaceAll(subject, erasedMarker) : key;
      const erased = eraseSubjectInValue(item, subject);
      if (erasedKey !== key || erased !== item) changed = true;
      return [erasedKey, erased] as const;
    });
    return changed ? Object.fromEntries(entries) : value;
  }
  return value;
}

/** Opens one stored value, erases the subject from it, and seals it again; undefined when the subject is absent. */
function rewrite(
  cipher: AtRestCipher,
  type: string | null,
  bytes: Uint8Array | null,
  context: string,
  subject: string,
): Uint8Array | undefined {
  if (bytes === null || !type?.startsWith(sealedTypePrefix)) return undefined;
  const text = Buffer.from(cipher.open(bytes, context)).toString('utf8');
  const escaped = JSON.stringify(subject).slice(1, -1);
  if (!text.includes(subject) && !text.includes(escaped)) return undefined;
  let erased: string;
  if (type === `${sealedTypePrefix}json`) {
    erased = JSON.stringify(eraseSubjectInValue(JSON.parse(text), subject));
  } else {
    erased = text.replaceAll(subject, erasedMarker);
  }
  return cipher.seal(Buffer.from(erased, 'utf8'), context);
}

/** Erases subject from every checkpoint value of the given threads (runs), or of all threads. */
export async function eraseSubjectFromCheckpoints(
  store: Store,
  cipher: AtRestCipher,
  subject: string,
  threadIds?: string[],
): Promise<CheckpointErasureResult> {
  let valuesRewritten = 0;
  const blobs = await selectCheckpointBlobs(store, threadIds);
  for (const row of blobs) {
    const blob = rewrite(cipher, row.type, row.blob, checkpointContexts.blob(row), subject);
    if (!blob) continue;
    await updateCheckpointBlob(store, row, blob);
    valuesRewritten += 1;
  }
  const writes = await selectCheckpointWrites(store, threadIds);
  for (const row of writes) {
    const value = rewrite(cipher, row.type, row.value, checkpointContexts.write(row), subject);
    if (!value) continue;
    await updateCheckpointWrite(store, row, value);
    valuesRewritten += 1;
  }
  const rows = await selectCheckpoints(store, threadIds);
  for (const row of rows) {
    const checkpoint = rewrite(cipher, row.type, row.checkpoint, checkpointContexts.checkpoint(row), subject);
    const metadata = rewrite(cipher, row.metadataType, row.metadata, checkpointContexts.metadata(row), subject);
    if (!checkpoint && !metadata) continue;
    await updateCheckpointValues(store, row, { ...(checkpoint ? { checkpoint } : {}), ...(metadata ? { metadata } : {}) });
    valuesRewritten += (checkpoint ? 1 : 0) + (metadata ? 1 : 0);
  }
  return { valuesRewritten };
}
