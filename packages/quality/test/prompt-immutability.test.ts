// A published prompt version is immutable: its template is read back from its sealed record and
// checked against the content hash it was published with, so a template edited in the store is
// refused when read (naming the record to verify), never served to a run; and the sealed chain of
// the record shows the edit too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, sql, type Store } from '@aifactory/store';
import { createRecorder, loadOrCreateSigner, verifyRun, type Recorder } from '@aifactory/verification';
import { parsePromptDocument, promptVersion, publishPrompt, resolvePrompt } from '../src/index.ts';

describe('a published prompt version', () => {
  let store: Store;
  let recorder: Recorder;
  let dataDir: string;

  beforeAll(async () => {
    store = await openStore();
    dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-prompt-immutable-'));
    recorder = createRecorder(store, { signer: await loadOrCreateSigner(dataDir) });
  });
  afterAll(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is refused when its template was edited in the store, and its record no longer verifies', async () => {
    const document = parsePromptDocument(
      'apiVersion: aifactory/v1\nkind: Prompt\nmetadata: { name: desk, owner: shop@acme.example }\nspec:\n  template: "You are the order desk of {{shop}}."\n  variables: { shop: { default: Acme } }\n',
      'prompts/desk.yaml',
    );
    const { version } = await publishPrompt({ store, recorder }, document, 'ann@acme.example');
    expect((await resolvePrompt(store, 'desk', '1', {})).text).toBe('You are the order desk of Acme.');

    // An insider with the append-only trigger off edits the stored template.
    await store.query(sql.raw('ALTER TABLE events DISABLE TRIGGER USER'));
    await store.query(
      sql`UPDATE events SET payload = replace(payload, 'order desk', 'refund desk') WHERE run_id = ${version.record} AND type = 'prompt.published'`,
    );
    await expect(promptVersion(store, 'desk', 1)).rejects.toThrow(
      `Prompt 'desk' v1 does not match the hash it was published with; run 'factory runs verify ${version.record}'.`,
    );
    await expect(resolvePrompt(store, 'desk', '1', {})).rejects.toThrow(/does not match the hash it was published with/);
    expect((await verifyRun(store, version.record)).ok).toBe(false);
  });
});
