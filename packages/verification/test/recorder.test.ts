// The recorder and verification against real stores: PGlite always, Postgres when configured.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson } from '@aifactory/core';
import { sql, type Store } from '@aifactory/store';
import {
  createRecorder,
  createRedactor,
  createSigner,
  erasePayloads,
  exportJsonl,
  exportOtlp,
  listRuns,
  readRunEvents,
  verifyAll,
  verifyExport,
  verifyRun,
  type Recorder,
  type SealSigner,
} from '../src/index.ts';
import { engines, freshSchema, postgresUrl, warnIfNoPostgres } from './engines.ts';

warnIfNoPostgres('verification');
const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'append-child.ts');

/** Disables the append-only triggers the way a superuser could, to play the attacker. */
async function asSuperuser(store: Store, statement: string): Promise<void> {
  await store.query(sql.raw('ALTER TABLE events DISABLE TRIGGER USER'));
  await store.query(sql.raw('ALTER TABLE seals DISABLE TRIGGER USER'));
  try {
    await store.query(sql.raw(statement));
  } finally {
    await store.query(sql.raw('ALTER TABLE events ENABLE TRIGGER USER'));
    await store.query(sql.raw('ALTER TABLE seals ENABLE TRIGGER USER'));
  }
}

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const result: string[] = [];
  for await (const line of lines) result.push(line.trimEnd());
  return result;
}

async function* iterate(lines: string[]): AsyncGenerator<string> {
  yield* lines;
}

for (const engine of engines('t_rec')) {
  describe.skipIf(engine.skip)(`recorder and verification on ${engine.name}`, () => {
    let store: Store;
    let signer: SealSigner;
    let recorder: Recorder;

    beforeAll(async () => {
      store = await engine.open();
      signer = createSigner(generateKeyPairSync('ed25519').privateKey);
      recorder = createRecorder(store, { signer });
    });
    afterAll(async () => {
      if (store) await engine.dispose(store);
    });

    it('records a run in order, seals it, and verifies it with the pinned key', async () => {
      const started = await recorder.startRun({
        id: 'r-basic',
        agent: 'clerk',
        team: 'finance',
        principal: 'alice',
        input: { text: 'refund order 42' },
        metadata: { policy_set_hash: 'abc' },
      });
      expect(started).toMatchObject({ seq: 1, type: 'run.started', prevHash: '0'.repeat(64) });
      const decided = await recorder.record('r-basic', {
        type: 'policy.decided',
        actor: 'control-plane',
        payload: {
          step: 1,
          action: { kind: 'tool', name: 'payments.refund', args: { amount: 40 } },
          decision: { authority: 'autonomous', rules: [], reason: 'small refund' },
        },
      });
      expect(decided).toMatchObject({ seq: 2, prevHash: started.hash });
      const batch = await recorder.recordBatch('r-basic', [
        { type: 'tool.called', actor: 'clerk', payload: { step: 1, name: 'payments.refund', call_id: 'c1', args: { amount: 40 } } },
        { type: 'tool.returned', actor: 'payments', payload: { step: 1, name: 'payments.refund', call_id: 'c1', content: 'ok' } },
      ]);
      expect(batch.map((event) => event.seq)).toEqual([3, 4]);
      const { event, seal } = await recorder.finishRun('r-basic', { status: 'completed', payload: { answer: 'Refunded.' } });
      expect(event).toMatchObject({ seq: 5, type: 'run.completed' });
      expect(seal).toMatchObject({ runId: 'r-basic', headSeq: 5, headHash: event.hash, keyId: signer.keyId });

      const report = await verifyRun(store, 'r-basic', { signers: [signer] });
      expect(report).toMatchObject({ ok: true, events: 5, erased: 0, sealed: true, status: 'completed', keyId: signer.keyId });
      const events = [];
      for await (const stored of readRunEvents(store, 'r-basic')) events.push(stored);
      expect(events.map((stored) => stored.type)).toEqual([
        'run.started',
        'policy.decided',
        'tool.called',
        'tool.returned',
        'run.completed',
      ]);
      expect(JSON.parse(events[1]!.payloadText!)).toMatchObject({ decision: { authority: 'autonomous' } });
    });

    it('stores every payload as the exact canonical text it hashed, in each statement form, escapes and odd characters included', async () => {
      const awkward = [
        'quote " backslash \\ slash / newline \n tab \t',
        'nul \u0000 bell \u0007 escape \u001b record separator \u001e (what splits the payloads of a statement on Postgres)',
        'a path C:\\users\\u0041 and \\u0000 written out',
        'é 😀 \u2028 \u2029 ﬀ',
      ];
      const payloads = awkward.map((text, index) => ({
        step: index,
        name: 'odd.text',
        call_id: `c${index}`,
        result: { text, list: [text, 1.5e-7, -0, 1e21] },
      }));
      const runs = ['r-odd-one', 'r-odd-batch', 'r-odd-a', 'r-odd-b'];
      const grouped = createRecorder(store, { signer, groupCommit: { maxInFlight: 1 } });
      for (const runId of runs) await grouped.startRun({ id: runId, agent: 'clerk', principal: 'alice' });
      // One event a statement; ten in one (JSON rows on both engines); two runs in one statement.
      for (const payload of payloads) await grouped.record('r-odd-one', { type: 'tool.returned', actor: 'tool', payload });
      await grouped.recordBatch(
        'r-odd-batch',
        [...payloads, ...payloads].map((payload) => ({ type: 'tool.returned', actor: 'tool', payload })),
      );
      await Promise.all(
        ['r-odd-a', 'r-odd-b'].map((runId) =>
          grouped.recordBatch(
            runId,
            payloads.map((payload) => ({ type: 'tool.returned', actor: 'tool', payload })),
          ),
        ),
      );
      for (const runId of runs) {
        const events = [];
        for await (const stored of readRunEvents(store, runId)) events.push(stored);
        const expected = runId === 'r-odd-batch' ? [...payloads, ...payloads] : payloads;
        expect(events.slice(1).map((stored) => stored.payloadText)).toEqual(expected.map((payload) => canonicalJson(payload)));
        expect(await verifyRun(store, runId, { signers: [signer] })).toMatchObject({ ok: true });
      }
    });

    it('checkpoint-seals a long run as it grows, in the background, and the run ended right after a checkpoint was due still verifies', async () => {
      const often = createRecorder(store, { signer, checkpoints: { everyEvents: 3 } });
      await often.startRun({ id: 'r-long', agent: 'clerk', principal: 'alice' });
      for (let step = 1; step <= 9; step += 1)
        await often.record('r-long', { type: 'tool.called', actor: 'clerk', payload: { step, name: 'ledger.read' } });
      // seq 10 is the ninth append: a checkpoint is due with it, and the run ends at once.
      const { seal } = await often.finishRun('r-long', { status: 'completed' });
      const seals = await store.query<{ kind: string; head_seq: number; seq: number }>(
        sql`SELECT kind, head_seq, seq FROM seals WHERE run_id = 'r-long' ORDER BY seq`,
      );
      const checkpoints = seals.filter((row) => row.kind === 'checkpoint').map((row) => Number(row.head_seq));
      expect(checkpoints.length).toBeGreaterThanOrEqual(2);
      expect(checkpoints.every((headSeq) => headSeq >= 4 && headSeq <= 10)).toBe(true);
      expect(seals.at(-1)).toMatchObject({ kind: 'final' });
      expect(Number(seals.at(-1)!.seq)).toBe(seal.seq);
      expect(await verifyRun(store, 'r-long', { signers: [signer] })).toMatchObject({ ok: true, events: 11, sealed: true });
      expect((await verifyAll(store, { signers: [signer] })).ok).toBe(true);
    });

    it('refuses unknown types, malformed payloads and appends after the end, before writing anything', async () => {
      await recorder.startRun({ id: 'r-refuse', agent: 'clerk', principal: 'alice' });
      await expect(recorder.record('r-refuse', { type: 'tool.exploded' as never, actor: 'x', payload: {} })).rejects.toThrow(
        /Unknown event type 'tool\.exploded'; known types: run\.started/,
      );
      await expect(recorder.record('r-refuse', { type: 'model.responded', actor: 'x', payload: { step: 'one' } })).rejects.toThrow(
        /Payload of model\.responded is invalid at payload\.step/,
      );
      await expect(
        recorder.record('r-refuse', { type: 'retrieval.performed', actor: 'x', payload: { step: 1, chunks: [{ id: 'c' }] } }),
      ).rejects.toThrow(/payload\.chunks\.0\.content_hash/);
      await expect(
        recorder.recordBatch('r-refuse', [
          { type: 'tool.called', actor: 'a', payload: { step: 1, name: 't' } },
          { type: 'run.completed', actor: 'a', payload: {} },
        ]),
      ).rejects.toThrow(/finishRun/);
      await expect(
        recorder.record('r-nowhere', { type: 'tool.called', actor: 'a', payload: { step: 1, name: 't' } }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect((await recorder.head('r-refuse')).seq).toBe(1);
      await recorder.finishRun('r-refuse', { status: 'failed', payload: { error: 'stopped' } });
      await expect(recorder.record('r-refuse', { type: 'tool.called', actor: 'a', payload: { step: 2, name: 't' } })).rejects.toMatchObject(
        { code: 'CONFLICT' },
      );
      await expect(recorder.startRun({ id: 'r-refuse', agent: 'clerk', principal: 'alice' })).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await verifyRun(store, 'r-refuse', { signers: [signer] })).toMatchObject({ ok: true, events: 2, status: 'failed' });
    });

    it('lets a recorder in another process continue a run, and two racing writers both land, one after the other', async () => {
      await recorder.startRun({ id: 'r-race', agent: 'clerk', principal: 'alice' });
      await recorder.record('r-race', { type: 'tool.called', actor: 'a', payload: { step: 1, name: 't' } });
      // A second recorder knows nothing of the first: it loads the head from the table.
      const other = createRecorder(store, { signer });
      expect(await other.head('r-race')).toMatchObject({ seq: 2, ended: false });
      const next = await other.record('r-race', { type: 'tool.returned', actor: 'a', payload: { step: 1, name: 't' } });
      expect(next.seq).toBe(3);
      // Both recorders now believe the same stale head: the loser of the race for seq 4 chains after
      // the winner instead of failing (a vote beside the run's owner must never make the run fail).
      const first = createRecorder(store, { signer });
      const second = createRecorder(store, { signer });
      await first.head('r-race');
      await second.head('r-race');
      const outcomes = await Promise.all([
        first.record('r-race', { type: 'tool.called', actor: 'first', payload: { step: 2, name: 't' } }),
        second.record('r-race', { type: 'tool.called', actor: 'second', payload: { step: 2, name: 't' } }),
      ]);
      expect(outcomes.map((event) => event.seq).sort()).toEqual([4, 5]);
      const later = outcomes.find((event) => event.seq === 5)!;
      expect(later.prevHash).toBe(outcomes.find((event) => event.seq === 4)!.hash);
      expect((await first.record('r-race', { type: 'tool.returned', actor: 'first', payload: { step: 2, name: 't' } })).seq).toBe(6);
      expect(await verifyRun(store, 'r-race')).toMatchObject({ ok: true });
    });

    it('appends many runs concurrently with seq gap-free per run', async () => {
      const ids = Array.from({ length: 12 }, (_, index) => `r-many-${index}`);
      await Promise.all(
        ids.map(async (id) => {
          await recorder.startRun({ id, agent: 'bulk', principal: 'bob' });
          for (let step = 1; step <= 15; step += 1)
            await recorder.record(id, { type: 'tool.called', actor: 'bulk', payload: { step, name: 'n' } });
          await recorder.finishRun(id, { status: 'completed' });
        }),
      );
      const summary = await verifyAll(store, { signers: [signer] });
      expect(summary.problem).toBeUndefined();
      expect(summary).toMatchObject({ ok: true, pinned: true });
      // Each run: a start seal and a final seal (17 events: no checkpoint in between), plus the hold seals of earlier tests.
      expect(summary.sealChain.seals).toBeGreaterThanOrEqual(summary.sealed * 2);
      for (const id of ids) expect(await verifyRun(store, id, { signers: [signer], pageSize: 4 })).toMatchObject({ ok: true, events: 17 });
      // Small pages: runs span page boundaries and pages span runs; the verdict is the same.
      const paged = await verifyAll(store, { signers: [signer], pageSize: 7 });
      expect(paged).toEqual(summary);
    });

    it('starts a burst of runs asked for at once, and one that cannot start (its id is taken) fails alone: the others start, sealed and verified', async () => {
      await recorder.startRun({ id: 'r-burst-taken', agent: 'bulk', principal: 'bob' });
      const ids = Array.from({ length: 12 }, (_, index) => `r-burst-${index}`);
      const asked = [...ids.slice(0, 6), 'r-burst-taken', ...ids.slice(6)];
      const outcomes = await Promise.allSettled(asked.map((id) => recorder.startRun({ id, agent: 'bulk', principal: 'bob' })));
      expect(outcomes[6]).toMatchObject({ status: 'rejected', reason: { code: 'CONFLICT' } });
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled').map((outcome) => outcome.value.runId)).toEqual(ids);
      for (const id of ids) expect(await verifyRun(store, id, { signers: [signer] })).toMatchObject({ ok: true, events: 1 });
      const [taken] = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM events WHERE run_id = 'r-burst-taken'`);
      expect(Number(taken!.n)).toBe(1);
      expect((await verifyAll(store, { signers: [signer] })).ok).toBe(true);
    });

    it('refuses UPDATE and DELETE on events and seals, but lets erasure through', async () => {
      await expect(store.query(sql`UPDATE events SET actor = 'mallory' WHERE run_id = 'r-basic' AND seq = 2`)).rejects.toThrow();
      await expect(store.query(sql`DELETE FROM events WHERE run_id = 'r-basic'`)).rejects.toThrow();
      await expect(store.query(sql`DELETE FROM seals`)).rejects.toThrow();
      await expect(
        store.query(
          sql`UPDATE events SET payload = NULL, payload_salt = NULL, erased_at = now(), actor = 'x' WHERE run_id = 'r-basic' AND seq = 2`,
        ),
      ).rejects.toThrow();
      expect(await verifyRun(store, 'r-basic', { signers: [signer] })).toMatchObject({ ok: true });
    });

    it('catches what a superuser changes behind the triggers, naming run, seq and what differs', async () => {
      await recorder.startRun({ id: 'r-tamper', agent: 'clerk', principal: 'alice' });
      for (let step = 1; step <= 4; step += 1)
        await recorder.record('r-tamper', {
          type: 'tool.called',
          actor: 'clerk',
          payload: { step, name: 'fs.read', args: { amount: 10 } },
        });
      await recorder.finishRun('r-tamper', { status: 'completed' });
      await asSuperuser(store, `UPDATE events SET payload = replace(payload, '10', '99') WHERE run_id = 'r-tamper' AND seq = 3`);
      const report = await verifyRun(store, 'r-tamper', { signers: [signer] });
      expect(report).toMatchObject({ ok: false, problem: { runId: 'r-tamper', seq: 3, kind: 'payload_mismatch' } });
      const summary = await verifyAll(store, { signers: [signer] });
      expect(summary.ok).toBe(false);
      expect(summary.failures.map((failure) => failure.runId)).toEqual(['r-tamper']);
    });

    it("erases a subject's payloads and still verifies as intact with N erased payloads", async () => {
      await recorder.startRun({ id: 'r-erase', agent: 'support', principal: 'carol', input: { text: 'I am jane@example.com' } });
      await recorder.record('r-erase', {
        type: 'tool.called',
        actor: 'support',
        payload: { step: 1, name: 'crm.lookup', args: { email: 'jane@example.com' } },
      });
      await recorder.record('r-erase', {
        type: 'tool.returned',
        actor: 'crm',
        payload: { step: 1, name: 'crm.lookup', content: 'plan: gold' },
      });
      await recorder.finishRun('r-erase', { status: 'completed', payload: { answer: 'Jane is on gold.' } });
      const result = await erasePayloads(store, { runId: 'r-erase', subject: 'jane@example.com' });
      expect(result.erased.map((event) => event.seq)).toEqual([1, 2]);
      expect(result.inputsCleared).toEqual(['r-erase']);
      const report = await verifyRun(store, 'r-erase', { signers: [signer] });
      expect(report).toMatchObject({ ok: true, erased: 2, events: 4 });
      const rows = await store.query<{ payload: string | null; erased_at: Date | null; payload_hash: string }>(
        sql`SELECT payload, erased_at, payload_hash FROM events WHERE run_id = 'r-erase' ORDER BY seq`,
      );
      expect(rows.map((row) => row.payload === null)).toEqual([true, true, false, false]);
      expect(rows[0]!.erased_at).not.toBeNull();
      expect(JSON.stringify(rows)).not.toContain('jane@');
      // Erasure is idempotent, and a tombstone cannot hide other tampering.
      expect((await erasePayloads(store, { runId: 'r-erase', subject: 'jane@example.com' })).erased).toEqual([]);
      await asSuperuser(store, `UPDATE events SET actor = 'mallory' WHERE run_id = 'r-erase' AND seq = 2`);
      expect(await verifyRun(store, 'r-erase', { signers: [signer] })).toMatchObject({
        ok: false,
        problem: { seq: 2, kind: 'hash_mismatch' },
      });
      await expect(erasePayloads(store, {})).rejects.toThrow(/needs a run id, a subject, or both/);
    });

    it('redacts secrets and PII before hashing, noting paths and kinds but never the values', async () => {
      const redactor = createRedactor({ key: Buffer.alloc(32, 7), pii: ['email'], secrets: ['hunter2-literal'] });
      const redacting = createRecorder(store, { signer, redactor });
      await redacting.startRun({ id: 'r-redact', agent: 'clerk', principal: 'alice', input: { text: 'mail bob@example.org' } });
      const key = `sk-proj-${'a1B2'.repeat(8)}`;
      const event = await redacting.record('r-redact', {
        type: 'tool.called',
        actor: 'clerk',
        payload: { step: 1, name: 'http.get', args: { headers: { authorization: `Bearer ${key}` }, note: 'password hunter2-literal' } },
      });
      expect(event.redactions).toEqual([
        { path: 'args.headers.authorization', kind: 'openai_key' },
        { path: 'args.note', kind: 'secret' },
      ]);
      const [row] = await store.query<{ payload: string; redactions: unknown }>(
        sql`SELECT payload, redactions FROM events WHERE run_id = 'r-redact' AND seq = 2`,
      );
      expect(row!.payload).not.toContain(key);
      expect(row!.payload).not.toContain('hunter2-literal');
      expect(row!.payload).toMatch(/Bearer \[REDACTED:openai_key:[0-9a-f]{8}\]/);
      const [started] = await store.query<{ input: unknown }>(sql`SELECT input FROM runs WHERE id = 'r-redact'`);
      expect(JSON.stringify(started!.input)).toMatch(/mail \[REDACTED:email:[0-9a-f]{8}\]/);
      await redacting.finishRun('r-redact', { status: 'completed' });
      expect(await verifyRun(store, 'r-redact', { signers: [signer] })).toMatchObject({ ok: true });
      // The redaction note is covered by the hash: dropping it is tampering.
      await asSuperuser(store, `UPDATE events SET redactions = NULL WHERE run_id = 'r-redact' AND seq = 2`);
      expect(await verifyRun(store, 'r-redact', { signers: [signer] })).toMatchObject({
        ok: false,
        problem: { seq: 2, kind: 'hash_mismatch' },
      });
    });

    it('lists runs by agent, status, time and authority', async () => {
      const all = [];
      for await (const run of listRuns(store)) all.push(run);
      expect(all.length).toBeGreaterThan(10);
      const byAuthority = [];
      for await (const run of listRuns(store, { authority: 'autonomous' })) byAuthority.push(run.id);
      expect(byAuthority).toEqual(['r-basic']);
      const failed = [];
      for await (const run of listRuns(store, { status: 'failed' })) failed.push(run.id);
      expect(failed).toEqual(['r-refuse']);
      const bulk = [];
      for await (const run of listRuns(store, { agent: 'bulk', limit: 5 }, 2)) bulk.push(run);
      expect(bulk).toHaveLength(5);
      expect(bulk[0]).toMatchObject({ agent: 'bulk', events: 17, sealed: true, status: 'completed' });
      const future = [];
      for await (const run of listRuns(store, { since: new Date(Date.now() + 60_000) })) future.push(run);
      expect(future).toEqual([]);
      await expect(listRuns(store, { status: 'paused' }).next()).rejects.toThrow(
        /Status 'paused' is unknown; use one of running, queued, orphaned, recovering, held, completed, failed/,
      );
    });

    it('exports JSONL that verifies offline, and catches a cut, an edit or a foreign key', async () => {
      const exported = await collect(exportJsonl(store, { runIds: ['r-basic', 'r-erase'] }, { signer }));
      expect(JSON.parse(exported[0]!)).toMatchObject({
        kind: 'header',
        format: 'aifactory.trace',
        version: 2,
        keys: [{ key_id: signer.keyId, public_key: signer.publicKey }],
      });
      const offline = await verifyExport(iterate(exported), { trustedKeys: [signer.publicKey] });
      // r-erase was tampered with above (actor of seq 2), r-basic is intact.
      expect(offline.runs).toBe(2);
      expect(offline.failures.map((failure) => failure.runId)).toEqual(['r-erase']);
      expect(offline.trailer).toEqual({ present: true, signed: true, ok: true });

      const clean = await collect(exportJsonl(store, { runIds: ['r-basic'] }, { signer }));
      expect(await verifyExport(iterate(clean), { trustedKeys: [signer.keyId] })).toMatchObject({
        ok: true,
        runs: 1,
        events: 5,
        sealed: 1,
        pinned: true,
      });
      expect((await verifyExport(iterate(clean.slice(0, -2)))).problem?.message).toMatch(/without its trailer: the file was cut/);
      const edited = clean.map((line) => line.replace('"amount":40', '"amount":4000'));
      expect(edited).not.toEqual(clean);
      expect((await verifyExport(iterate(edited))).ok).toBe(false);
      const stranger = createSigner(generateKeyPairSync('ed25519').privateKey);
      const foreign = await verifyExport(iterate(clean), { trustedKeys: [stranger.publicKey] });
      expect(foreign.ok).toBe(false);
      expect(foreign.failures[0]?.problem).toMatchObject({ runId: 'r-basic', kind: 'seal_key_untrusted' });
      expect(foreign.problem?.message).toMatch(/trailer's signature .* does not verify with a trusted key/);
    });

    it('exports OpenTelemetry GenAI spans as OTLP JSON', async () => {
      await recorder.startRun({ id: 'r-otel', agent: 'analyst', principal: 'dana' });
      await recorder.recordBatch('r-otel', [
        { type: 'model.requested', actor: 'analyst', payload: { step: 1, provider: 'openai', model: 'gpt-5-mini' } },
        {
          type: 'model.responded',
          actor: 'analyst',
          payload: {
            step: 1,
            model: 'gpt-5-mini-2026',
            usage: { inputTokens: 120, outputTokens: 30 },
            cost_usd: 0.0004,
            finish_reason: 'tool_calls',
          },
        },
        {
          type: 'policy.decided',
          actor: 'control-plane',
          payload: { step: 2, action: { kind: 'tool', name: 'sql.query' }, decision: { authority: 'notify_human', rules: [] } },
        },
        { type: 'tool.called', actor: 'analyst', payload: { step: 2, name: 'sql.query', call_id: 'call_1' } },
        {
          type: 'tool.failed',
          actor: 'sql',
          payload: { step: 2, name: 'sql.query', call_id: 'call_1', error: { code: 'timeout', message: 'took too long' } },
        },
        { type: 'retrieval.performed', actor: 'knowledge', payload: { step: 3, chunks: [{ id: 'ch1', content_hash: 'h1' }] } },
      ]);
      await recorder.finishRun('r-otel', { status: 'completed' });
      const lines = await collect(exportOtlp(store, { runIds: ['r-otel'] }));
      const spans = lines.flatMap(
        (line) =>
          JSON.parse(line).resourceSpans[0].scopeSpans[0].spans as Array<{
            name: string;
            attributes: Array<{ key: string; value: Record<string, unknown> }>;
            status: { code: number };
            traceId: string;
          }>,
      );
      const attribute = (span: (typeof spans)[number], key: string) =>
        Object.values(span.attributes.find((entry) => entry.key === key)?.value ?? {})[0];
      const chat = spans.find((span) => span.name === 'chat gpt-5-mini')!;
      expect(attribute(chat, 'gen_ai.operation.name')).toBe('chat');
      expect(attribute(chat, 'gen_ai.request.model')).toBe('gpt-5-mini');
      expect(attribute(chat, 'gen_ai.usage.input_tokens')).toBe('120');
      expect(attribute(chat, 'gen_ai.usage.output_tokens')).toBe('30');
      const tool = spans.find((span) => span.name === 'execute_tool sql.query')!;
      expect(attribute(tool, 'gen_ai.tool.name')).toBe('sql.query');
      expect(tool.status.code).toBe(2);
      expect(spans.find((span) => span.name === 'invoke_agent analyst')).toBeDefined();
      expect(spans.find((span) => span.name === 'execute_tool retrieval')).toBeDefined();
      expect(new Set(spans.map((span) => span.traceId)).size).toBe(1);
    });
  });
}

describe.skipIf(!postgresUrl)('two processes appending to one Postgres run', () => {
  it('lets both land at once, one after the other, and the chain verifies', { timeout: 30_000 }, async () => {
    const [postgres] = engines('t_race').filter((engine) => engine.name === 'postgres');
    const schema = freshSchema('t_race');
    const store = await postgres!.open({ schema });
    const keyDir = mkdtempSync(path.join(tmpdir(), 'aifactory-race-'));
    try {
      const recorder = createRecorder(store);
      await recorder.startRun({ id: 'shared', agent: 'race', principal: 'p' });
      const config = JSON.stringify({ mode: 'race', databaseUrl: postgresUrl, schema, keyDir, run: 'shared' });
      const children = [0, 1].map(() => spawn(process.execPath, [childScript, config], { stdio: ['pipe', 'pipe', 'inherit'] }));
      const outputs = children.map(() => ({ text: '' }));
      children.forEach((child, index) => child.stdout.on('data', (chunk: Buffer) => (outputs[index]!.text += chunk.toString())));
      const waitFor = async (pattern: RegExp) => {
        for (let tries = 0; tries < 400 && !outputs.every((output) => pattern.test(output.text)); tries += 1)
          await new Promise((resolve) => setTimeout(resolve, 50));
      };
      await waitFor(/head shared 1/);
      expect(outputs.map((output) => output.text)).toEqual([
        expect.stringContaining('head shared 1'),
        expect.stringContaining('head shared 1'),
      ]);
      for (const child of children) child.stdin.write('go\n');
      await Promise.all(children.map((child) => new Promise((resolve) => child.on('exit', resolve))));
      const results = outputs.map((output) => output.text.split('\n').find((line) => /^(ok|conflict|error)/.test(line)));
      expect(results.sort()).toEqual(['ok shared 2', 'ok shared 3']);
      expect(await verifyRun(store, 'shared')).toMatchObject({ ok: true, events: 3 });
    } finally {
      rmSync(keyDir, { recursive: true, force: true });
      await postgres!.dispose(store);
    }
  });
});

describe.skipIf(!postgresUrl)('two writers extending one Postgres seal chain at once', () => {
  it(
    'queues their batches for the head: bursts of starts from both land, each start sealed and signed once, and the chain verifies',
    { timeout: 60_000 },
    async () => {
      const [postgres] = engines('t_chain').filter((engine) => engine.name === 'postgres');
      const schema = freshSchema('t_chain');
      const stores = [await postgres!.open({ schema }), await postgres!.open({ schema })];
      try {
        const key = generateKeyPairSync('ed25519').privateKey;
        // The start seals each writer signed: a batch that lost a race for the chain's head was re-signed whole.
        const sealSignatures = [0, 0];
        const recorders = stores.map((store, index) => {
          const signer = createSigner(key);
          const sign = signer.sign.bind(signer);
          signer.sign = (message: string) => {
            if (message.includes('"kind":"start"') && message.includes('"run_id"')) sealSignatures[index]! += 1;
            return sign(message);
          };
          return createRecorder(store, { signer });
        });
        const rounds = 5;
        const perBurst = 20;
        for (let round = 0; round < rounds; round += 1) {
          // Both writers' bursts asked in the same turn: their batches meet at the chain's head.
          await Promise.all(
            recorders.map((recorder, writer) =>
              Promise.all(
                Array.from({ length: perBurst }, (_, index) =>
                  recorder.startRun({ id: `c-${round}-${writer}-${index}`, agent: 'chain', principal: 'p' }),
                ),
              ),
            ),
          );
          await Promise.all(
            recorders.map((recorder, writer) =>
              Promise.all(
                Array.from({ length: perBurst }, (_, index) =>
                  recorder.finishRun(`c-${round}-${writer}-${index}`, { status: 'completed' }),
                ),
              ),
            ),
          );
        }
        const [{ n }] = (await stores[0]!.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM seals`)) as [{ n: number }];
        expect(Number(n)).toBe(rounds * perBurst * 2 * 2);
        expect(sealSignatures[0]! + sealSignatures[1]!).toBe(rounds * perBurst * 2);
        const summary = await verifyAll(stores[0]!);
        expect(summary.problem).toBeUndefined();
        expect(summary).toMatchObject({ ok: true, sealed: rounds * perBurst * 2 });
      } finally {
        await stores[1]!.close();
        await postgres!.dispose(stores[0]!);
      }
    },
  );
});

describe.skipIf(!postgresUrl)('starts that keep coming while a batch of starts is written (Postgres)', () => {
  it(
    'sends the next batch while the last one links: every start sealed once, in a chain that verifies, and a start of an existing run fails alone',
    { timeout: 60_000 },
    async () => {
      const [postgres] = engines('t_ahead').filter((engine) => engine.name === 'postgres');
      const store = await postgres!.open({ schema: freshSchema('t_ahead') });
      try {
        const recorder = createRecorder(store, { signer: createSigner(generateKeyPairSync('ed25519').privateKey) });
        await recorder.startRun({ id: 'ahead-taken', agent: 'ahead', principal: 'p' });
        // Twelve turns of the event loop, eight starts each: batches are sent while earlier ones link.
        const starts: { id: string; started: Promise<unknown> }[] = [];
        for (let turn = 0; turn < 12; turn += 1) {
          for (let index = 0; index < 8; index += 1) {
            const id = turn === 5 && index === 3 ? 'ahead-taken' : `ahead-${turn}-${index}`;
            starts.push({ id, started: recorder.startRun({ id, agent: 'ahead', principal: 'p' }) });
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        const settled = await Promise.allSettled(starts.map((start) => start.started));
        const refused = settled.flatMap((result, index) =>
          result.status === 'rejected' ? [{ id: starts[index]!.id, error: result.reason }] : [],
        );
        expect(refused).toEqual([
          { id: 'ahead-taken', error: expect.objectContaining({ message: expect.stringContaining('already exists') }) },
        ]);
        const [{ runs, seals, events }] = (await store.query<{ runs: number; seals: number; events: number }>(
          sql`SELECT (SELECT count(*)::int FROM runs) AS runs, (SELECT count(*)::int FROM seals) AS seals, (SELECT count(*)::int FROM events) AS events`,
        )) as [{ runs: number; seals: number; events: number }];
        expect({ runs, seals, events }).toEqual({ runs: 96, seals: 96, events: 96 });
        const summary = await verifyAll(store);
        expect(summary.problem).toBeUndefined();
        expect(summary).toMatchObject({ ok: true });
      } finally {
        await postgres!.dispose(store);
      }
    },
  );
});
