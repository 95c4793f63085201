// The insider: a superuser session with the append-only triggers off (session_replication_role =
// replica), attacking the edges of the proof — the newest runs, held runs, runs nobody started,
// the runs row — and, holding the seal key too, re-sealing a rewritten history and making one
// normal run after it. Each attack runs in a transaction rolled back afterwards. Each is detected,
// or the test pins down exactly what docs/verification.md says it needs (a witness).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Store } from '@aifactory/store';
import {
  createRecorder,
  createSigner,
  eventHash,
  genesisHash,
  newSalt,
  openWitness,
  payloadHash,
  verifyAll,
  verifyRun,
  type Recorder,
  type SealSigner,
  type VerificationSummary,
  type Witness,
} from '../src/index.ts';
import { engines, warnIfNoPostgres } from './engines.ts';

warnIfNoPostgres('verification insider');

/** What was tried and whether it was caught: printed at the end for the note. */
const table: Array<{ attack: string; engine: string; detected: string }> = [];

for (const engine of engines('t_insider')) {
  describe.skipIf(engine.skip)(`an insider with the database on ${engine.name}`, { timeout: 180_000 }, () => {
    let store: Store;
    let key: KeyObject;
    let signer: SealSigner;
    let recorder: Recorder;
    let witnessDir: string;
    let witness: Witness;

    beforeAll(async () => {
      store = await engine.open({ maxConnections: 1 });
      key = generateKeyPairSync('ed25519').privateKey;
      signer = createSigner(key);
      witnessDir = mkdtempSync(path.join(tmpdir(), 'aifactory-witness-'));
      witness = openWitness(witnessDir);
      recorder = createRecorder(store, { signer, witness, checkpoints: { everyEvents: 4 } });
      for (const id of ['done-1', 'done-2']) {
        await recorder.startRun({ id, agent: 'clerk', principal: 'alice', input: { text: `refund ${id}` } });
        await recorder.record(id, {
          type: 'tool.called',
          actor: 'clerk',
          payload: { step: 1, name: 'payments.refund', args: { amount: 40 } },
        });
        await recorder.finishRun(id, { status: 'completed', payload: { answer: 'Refunded.' } });
      }
      // A held run: its decision was notify_human; it waits for a human, checkpoint-sealed.
      await recorder.startRun({ id: 'held-1', agent: 'clerk', principal: 'bob', input: { text: 'refund 900' } });
      await recorder.record('held-1', {
        type: 'policy.decided',
        actor: 'control-plane',
        payload: {
          step: 1,
          action: { kind: 'tool', name: 'payments.refund', args: { amount: 900 } },
          decision: { authority: 'notify_human', rules: ['mid-refunds'] },
        },
      });
      await recorder.record('held-1', { type: 'run.held', actor: 'runtime', payload: { step: 1, approval_id: 'ap-1' } });
      await recorder.setStatus('held-1', 'held');
      // A long running run, checkpoint-sealed every 4 events.
      await recorder.startRun({ id: 'open-1', agent: 'clerk', principal: 'carol' });
      for (let step = 1; step <= 9; step += 1)
        await recorder.record('open-1', { type: 'tool.called', actor: 'clerk', payload: { step, name: 'ledger.read' } });
      // The newest sealed run: the tail of the seal chain.
      await recorder.startRun({ id: 'done-3', agent: 'clerk', principal: 'dave', input: { text: 'refund 12' } });
      await recorder.record('done-3', {
        type: 'tool.called',
        actor: 'clerk',
        payload: { step: 1, name: 'payments.refund', args: { amount: 12 } },
      });
      await recorder.finishRun('done-3', { status: 'completed', payload: { answer: 'Refunded 12.' } });
    }, 180_000);
    afterAll(async () => {
      if (store) await engine.dispose(store);
      if (witnessDir) rmSync(witnessDir, { recursive: true, force: true });
      console.table(table.filter((row) => row.engine === engine.name));
    });

    /** Runs an attack as a superuser behind the triggers, checks, and rolls everything back. */
    async function asInsider<T>(attack: () => Promise<void>, check: () => Promise<T>): Promise<T> {
      await store.query(sql.raw('BEGIN'));
      try {
        await store.query(sql.raw('SET LOCAL session_replication_role = replica'));
        await attack();
        return await check();
      } finally {
        await store.query(sql.raw('ROLLBACK'));
      }
    }

    function note(attack: string, summary: { ok: boolean; problem?: { kind: string } | undefined }): void {
      table.push({ attack, engine: engine.name, detected: summary.ok ? 'NO' : `yes (${summary.problem?.kind})` });
    }

    const withWitness = () => verifyAll(store, { signers: [signer], witness });
    /** An auditor on a fresh machine: the pinned public key, no anchor file, no witness. */
    const fromFreshHome = () => verifyAll(store, { trustedKeys: [signer.publicKey] });

    async function dropRun(runId: string): Promise<void> {
      await store.query(sql`DELETE FROM events WHERE run_id = ${runId}`);
      await store.query(sql`DELETE FROM runs WHERE id = ${runId}`);
      await store.query(sql`DELETE FROM seals WHERE run_id = ${runId}`);
    }

    /** Rewrites a run's events from seq `from` on with new payloads, recomputing every hash after it (what a forger with the database can do). */
    async function rewriteAndRehash(
      runId: string,
      from: number,
      edit: (payload: Record<string, unknown>, seq: number) => Record<string, unknown>,
    ): Promise<void> {
      const rows = await store.query<{ seq: number; ts: string; type: string; actor: string; payload: string; schema_version: number }>(
        sql`SELECT seq, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts, type, actor, payload, schema_version FROM events WHERE run_id = ${runId} ORDER BY seq`,
      );
      let previous = genesisHash;
      for (const row of rows) {
        if (Number(row.seq) < from) {
          const [kept] = await store.query<{ hash: string }>(sql`SELECT hash FROM events WHERE run_id = ${runId} AND seq = ${row.seq}`);
          previous = kept!.hash;
          continue;
        }
        const payload = JSON.stringify(edit(JSON.parse(row.payload) as Record<string, unknown>, Number(row.seq)));
        const salt = newSalt();
        const hashOfPayload = payloadHash(salt, payload);
        const hash = eventHash(previous, {
          runId,
          seq: Number(row.seq),
          ts: row.ts,
          type: row.type,
          actor: row.actor,
          payloadHash: hashOfPayload,
          schemaVersion: Number(row.schema_version),
        });
        await store.query(
          sql`UPDATE events SET payload = ${payload}, payload_salt = ${salt}, payload_hash = ${hashOfPayload}, prev_hash = ${previous}, hash = ${hash} WHERE run_id = ${runId} AND seq = ${row.seq}`,
        );
        previous = hash;
      }
    }

    /** Inserts a run with a valid hash chain straight into the tables (no recorder, no key). */
    async function invent(runId: string, ended: boolean): Promise<void> {
      const ts = new Date().toISOString();
      const events = [
        { type: 'run.started', payload: { agent: 'clerk', principal: 'mallory', input: { text: 'pay me' } } },
        { type: 'tool.called', payload: { step: 1, name: 'payments.refund', args: { amount: 99_999 } } },
        ...(ended ? [{ type: 'run.completed', payload: {} }] : []),
      ];
      let previous = genesisHash;
      for (const [index, event] of events.entries()) {
        const text = JSON.stringify(event.payload);
        const salt = newSalt();
        const hashOfPayload = payloadHash(salt, text);
        const hash = eventHash(previous, {
          runId,
          seq: index + 1,
          ts,
          type: event.type,
          actor: 'mallory',
          payloadHash: hashOfPayload,
          schemaVersion: 1,
        });
        await store.query(sql`INSERT INTO events (run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, prev_hash, hash)
          VALUES (${runId}, ${index + 1}, ${ts}::timestamptz, ${event.type}, 'mallory', ${text}, ${salt}, ${hashOfPayload}, 1, ${previous}, ${hash})`);
        previous = hash;
      }
      await store.query(
        sql`INSERT INTO runs (id, agent, principal, status, input, started_at) VALUES (${runId}, 'clerk', 'mallory', 'running', ${JSON.stringify({ text: 'pay me' })}::jsonb, ${ts}::timestamptz)`,
      );
    }

    it('starts from a store that verifies, its tail checked against the witness', async () => {
      const summary = await withWitness();
      expect(summary.problem).toBeUndefined();
      expect(summary).toMatchObject({ ok: true, runs: 5, sealed: 3, tail: { checkedBy: 'witness' } });
      expect(summary.tail.message).toMatch(/reaches every checkpoint witness .* holds for store/);
    });

    it('deleting the newest run (or runs) is caught by the witness and the anchor; a fresh home says plainly it cannot see it', async () => {
      for (const victims of [['done-3'], ['done-3', 'open-1']]) {
        const attack = async () => {
          for (const runId of victims) await dropRun(runId);
          // The start and checkpoint seals of other runs made after it go too, so the chain ends cleanly.
          await store.query(
            sql`DELETE FROM seals WHERE seq > (SELECT min(seq) FROM seals WHERE run_id IN (SELECT json_array_elements_text(${JSON.stringify(victims)}::json)))`,
          );
        };
        const witnessed = await asInsider(attack, withWitness);
        note(`delete newest ${victims.length} run(s), witness`, witnessed);
        expect(witnessed.ok).toBe(false);
        expect(witnessed.problem?.kind).toMatch(/witness_mismatch|seal_chain_cut/);
        const fresh = await asInsider(attack, fromFreshHome);
        note(`delete newest ${victims.length} run(s), fresh home, no witness`, fresh);
        // Documented: without a witness or an anchor nothing outside the database remembers the tail.
        expect(fresh.tail.checkedBy).toBe('none');
        expect(fresh.tail.message).toMatch(/tail of the seal chain cannot be checked/);
        // Verifying one run checks the anchor too.
        const one = await asInsider(attack, () => verifyRun(store, 'done-1', { signers: [signer] }));
        note(`delete newest ${victims.length} run(s), verify one other run with the anchor`, one);
        expect(one.ok).toBe(false);
      }
    });

    it("deleting a held run's last event is caught by its hold seal", async () => {
      const summary = await asInsider(
        () =>
          store
            .query(sql`DELETE FROM events WHERE run_id = 'held-1' AND seq = (SELECT max(seq) FROM events WHERE run_id = 'held-1')`)
            .then(() => undefined),
        fromFreshHome,
      );
      note("delete a held run's last event", summary);
      expect(summary.failures[0]?.problem).toMatchObject({ runId: 'held-1', kind: 'checkpoint_mismatch' });
      // And with its hold seal removed too (it is the newest seal of the run, not of the chain): a gap.
      const withSeal = await asInsider(async () => {
        await store.query(sql`DELETE FROM events WHERE run_id = 'held-1' AND seq = (SELECT max(seq) FROM events WHERE run_id = 'held-1')`);
        await store.query(sql`DELETE FROM seals WHERE run_id = 'held-1' AND kind = 'checkpoint'`);
      }, fromFreshHome);
      note("delete a held run's last event and its hold seal", withSeal);
      expect(withSeal.ok).toBe(false);
    });

    it('a held run rewritten and rehashed (notify_human -> autonomous) fails verification, and its resume fails closed with the refusal recorded', async () => {
      const forge = () =>
        rewriteAndRehash('held-1', 2, (payload) => {
          const decision = payload.decision as Record<string, unknown> | undefined;
          return decision ? { ...payload, decision: { ...decision, authority: 'autonomous' } } : payload;
        });
      const summary = await asInsider(forge, fromFreshHome);
      note('rewrite and rehash a held run', summary);
      expect(summary.failures[0]?.problem).toMatchObject({ runId: 'held-1', kind: 'checkpoint_mismatch' });
      const refusal = await asInsider(forge, async () => {
        const error = await recorder.setStatus('held-1', 'running').then(
          () => undefined,
          (caught: unknown) => caught as { code?: string; message?: string },
        );
        const [last] = await store.query<{ type: string; status: string }>(
          sql`SELECT e.type, r.status FROM events e JOIN runs r ON r.id = e.run_id WHERE e.run_id = 'held-1' ORDER BY e.seq DESC LIMIT 1`,
        );
        return { error, last };
      });
      table.push({
        attack: 'resume a rewritten held run',
        engine: engine.name,
        detected: refusal.error ? `refused (${refusal.error.code})` : 'NO',
      });
      expect(refusal.error).toMatchObject({ code: 'VERIFICATION_FAILED' });
      expect(refusal.error?.message).toMatch(/may not resume: its recorded history does not verify/);
      expect(refusal.last).toEqual({ type: 'resume.refused', status: 'held' });
    });

    it('invented completed and running runs are flagged as started by no recorded process, and runs seal refuses to vouch for them', async () => {
      for (const ended of [true, false]) {
        const runId = ended ? 'invented-done' : 'invented-open';
        const summary = await asInsider(() => invent(runId, ended), fromFreshHome);
        note(`invent a ${ended ? 'completed' : 'running'} run`, summary);
        expect(summary.failures.find((failure) => failure.runId === runId)?.problem).toMatchObject({ kind: 'run_unattested' });
        expect(summary.warnings.join('\n')).not.toMatch(/runs seal invented/);
      }
      const sealing = await asInsider(
        () => invent('invented-done', true),
        () =>
          recorder.sealRun('invented-done').then(
            () => 'sealed',
            (error: { code?: string }) => error.code,
          ),
      );
      table.push({
        attack: 'runs seal an invented completed run',
        engine: engine.name,
        detected: sealing === 'sealed' ? 'NO' : `refused (${sealing})`,
      });
      expect(sealing).toBe('VERIFICATION_FAILED');
    });

    it('every edit of the runs row an auditor reads is caught', async () => {
      const edits: Array<[string, string]> = [
        ['started_at moved back 30 days', `UPDATE runs SET started_at = started_at - interval '30 days' WHERE id = 'done-1'`],
        ['started_at moved by 1 microsecond', `UPDATE runs SET started_at = started_at + interval '1 microsecond' WHERE id = 'done-1'`],
        ['status completed -> failed', `UPDATE runs SET status = 'failed' WHERE id = 'done-1'`],
        ['status held -> completed', `UPDATE runs SET status = 'completed' WHERE id = 'held-1'`],
        ['input edited', `UPDATE runs SET input = '{"text":"refund 1"}'::jsonb WHERE id = 'done-2'`],
        ['principal edited', `UPDATE runs SET principal = 'mallory' WHERE id = 'done-2'`],
        ['ended_at moved', `UPDATE runs SET ended_at = ended_at + interval '1 hour' WHERE id = 'done-2'`],
        ['metadata edited', `UPDATE runs SET metadata = '{"policy":"lenient"}'::jsonb WHERE id = 'done-2'`],
      ];
      for (const [attack, statement] of edits) {
        const summary = await asInsider(() => store.query(sql.raw(statement)).then(() => undefined), fromFreshHome);
        note(`runs row: ${attack}`, summary);
        expect(summary.ok, attack).toBe(false);
        expect(summary.problem?.kind, attack).toBe('run_row_mismatch');
      }
    });

    it('re-sealing a rewritten history with the key, then one normal run, passes the anchor but not the witness', async () => {
      // The insider holds the key (and its anchor file): they rewrite done-3, drop its final seal,
      // re-seal it, and make one normal run so the chain grows past what was sealed before.
      const attacker = createSigner(key);
      const attackerWitness = openWitness(mkdtempSync(path.join(tmpdir(), 'aifactory-witness-copy-')));
      // The attacker can also submit to the witness (they hold the key): give them a copy that starts as the real one.
      cpSync(witnessDir, attackerWitness.location, { recursive: true });
      const summaries = await asInsider(
        async () => {
          await rewriteAndRehash('done-3', 2, (payload, seq) => (seq === 2 ? { ...payload, args: { amount: 12_000 } } : payload));
          await store.query(sql`DELETE FROM seals WHERE run_id = 'done-3' AND kind = 'final'`);
          await store.query(sql`UPDATE runs SET status = 'running', ended_at = NULL WHERE id = 'done-3'`);
          const forger = createRecorder(store, { signer: attacker, witness: attackerWitness });
          await forger.sealRun('done-3');
          await forger.startRun({ id: 'after-1', agent: 'clerk', principal: 'eve' });
          await forger.finishRun('after-1', { status: 'completed' });
        },
        async () => ({
          anchorOnly: await verifyAll(store, { signers: [attacker] }),
          witnessed: await verifyAll(store, { signers: [attacker], witness: attackerWitness }),
          // An auditor with the pinned key and the witness the real recorder wrote to.
          realWitness: await verifyAll(store, { trustedKeys: [signer.publicKey], witness }),
        }),
      );
      rmSync(attackerWitness.location, { recursive: true, force: true });
      note('re-seal with the key + one normal run, anchor only', summaries.anchorOnly);
      note('re-seal with the key + one normal run, witness (attacker can submit)', summaries.witnessed);
      note('re-seal with the key + one normal run, witness (attacker cannot submit)', summaries.realWitness);
      // Documented: the key's own anchor cannot catch someone holding the key and its anchor file.
      expect(summaries.anchorOnly.ok).toBe(true);
      expect(summaries.anchorOnly.tail.checkedBy).toBe('anchor');
      // The witness keeps every checkpoint: the rewritten seal's place holds another hash.
      for (const summary of [summaries.witnessed, summaries.realWitness]) {
        expect(summary.ok).toBe(false);
        expect(summary.problem?.kind).toBe('witness_mismatch');
      }
    });

    it('replacing the store identity, or removing it, breaks every seal that signed it', async () => {
      const replaced = await asInsider(
        () => store.query(sql`UPDATE store_identity SET id = 'another-store'`).then(() => undefined),
        fromFreshHome,
      );
      note('replace the store identity', replaced);
      expect(replaced.problem?.kind).toBe('store_identity_mismatch');
      const removed = await asInsider(() => store.query(sql`DELETE FROM store_identity`).then(() => undefined), fromFreshHome);
      note('delete the store identity', removed);
      expect(removed.ok).toBe(false);
    });

    it('the store is intact again after every attack was rolled back', async () => {
      const summary: VerificationSummary = await withWitness();
      expect(summary.ok).toBe(true);
    });
  });
}
