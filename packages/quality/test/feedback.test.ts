// Feedback on a sealed run, on PGlite and Postgres: it never touches the run's own chain (which
// still verifies, its head unchanged), it is a sealed chain of its own bound to the run's head,
// it is searchable by agent, sentiment and correction, counted, validated before anything is
// written, and its corrections become evaluation cases that parse as a suite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '@aifactory/store';
import { createRecorder, loadOrCreateSigner, verifyRun, type Recorder, type SealSigner } from '@aifactory/verification';
import { correctionsToSuite, countFeedback, listFeedback, parseEvalSuite, recordFeedback } from '../src/index.ts';
import { engines, warnIfNoPostgres } from '../../verification/test/engines.ts';

warnIfNoPostgres('feedback');

for (const engine of engines('t_feedback')) {
  describe.skipIf(engine.skip)(`feedback on ${engine.name}`, () => {
    let store: Store;
    let recorder: Recorder;
    let signer: SealSigner;
    let dataDir: string;

    beforeAll(async () => {
      store = await engine.open();
      dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-feedback-'));
      signer = await loadOrCreateSigner(dataDir);
      recorder = createRecorder(store, { signer });
      for (const [id, agent, input] of [
        ['run_leave', 'policy-copilot', 'How much parental leave do I get?'],
        ['run_vpn', 'policy-copilot', 'How do I reset my VPN token?'],
        ['run_order', 'order-desk', 'Where is my order?'],
      ] as const) {
        await recorder.startRun({ id, agent, principal: 'erin@acme.example', input: { text: input } });
        await recorder.record(id, { type: 'answer.given', actor: agent, payload: { step: 1, text: 'An answer.' } });
        await recorder.finishRun(id, { status: 'completed' });
      }
    });

    afterAll(async () => {
      if (store) await engine.dispose(store);
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("records feedback on a sealed run without touching the run's chain, as a sealed record bound to its head", async () => {
      const before = await recorder.head('run_leave');
      const feedback = await recordFeedback(
        { store, recorder },
        { runId: 'run_leave', by: 'erin@acme.example', score: -1, comment: 'Wrong figure.', correction: 'Birth parents get 16 weeks.' },
      );
      expect(feedback).toMatchObject({
        runId: 'run_leave',
        agent: 'policy-copilot',
        sentiment: 'negative',
        input: 'How much parental leave do I get?',
        runHead: { seq: before.seq, hash: before.hash },
      });
      expect(await recorder.head('run_leave')).toEqual(before);
      const run = await verifyRun(store, 'run_leave', { signers: [signer] });
      expect(run.ok).toBe(true);
      const record = await verifyRun(store, feedback.id, { signers: [signer] });
      expect(record).toMatchObject({ ok: true, events: 3, sealed: true });
    });

    it('is searchable by run, agent, sentiment and correction, newest first, and counted', async () => {
      await recordFeedback({ store, recorder }, { runId: 'run_vpn', by: 'sam@acme.example', score: 1, comment: 'Spot on.' });
      await recordFeedback({ store, recorder }, { runId: 'run_order', by: 'sam@acme.example', score: 0 });
      expect(
        (await listFeedback(store, { sentiment: 'negative' })).map((record) => [record.runId, record.comment, record.correction]),
      ).toEqual([['run_leave', 'Wrong figure.', 'Birth parents get 16 weeks.']]);
      expect((await listFeedback(store, { agent: 'policy-copilot' })).map((record) => record.runId)).toEqual(['run_vpn', 'run_leave']);
      expect((await listFeedback(store, { withCorrection: true })).map((record) => record.runId)).toEqual(['run_leave']);
      expect((await listFeedback(store, { runId: 'run_order' }))[0]).toMatchObject({
        sentiment: 'neutral',
        score: 0,
        by: 'sam@acme.example',
      });
      expect(
        (await countFeedback(store)).sort((left, right) =>
          `${left.agent}${left.sentiment}`.localeCompare(`${right.agent}${right.sentiment}`),
        ),
      ).toEqual([
        { agent: 'order-desk', sentiment: 'neutral', count: 1 },
        { agent: 'policy-copilot', sentiment: 'negative', count: 1 },
        { agent: 'policy-copilot', sentiment: 'positive', count: 1 },
      ]);
    });

    it('refuses bad feedback before writing anything: a score out of range, an empty correction, a missing run, a feedback record', async () => {
      const count = async () => (await countFeedback(store)).reduce((sum, row) => sum + row.count, 0);
      const before = await count();
      await expect(recordFeedback({ store, recorder }, { runId: 'run_vpn', by: 'x', score: 2 })).rejects.toThrow(
        /not a number from -1 \(bad\) to 1 \(good\)/,
      );
      await expect(recordFeedback({ store, recorder }, { runId: 'run_vpn', by: 'x', score: Number.NaN })).rejects.toMatchObject({
        code: 'INPUT_INVALID',
      });
      await expect(recordFeedback({ store, recorder }, { runId: 'run_vpn', by: 'x', score: 1, correction: ' ' })).rejects.toMatchObject({
        code: 'INPUT_INVALID',
      });
      await expect(recordFeedback({ store, recorder }, { runId: 'run_nope', by: 'x', score: 1 })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      const [record] = await listFeedback(store, { runId: 'run_vpn' });
      await expect(recordFeedback({ store, recorder }, { runId: record!.id, by: 'x', score: 1 })).rejects.toThrow(
        /itself a feedback record/,
      );
      expect(await count()).toBe(before);
    });

    it('turns corrections into eval cases: a new suite, then appended with comments kept and exported ones skipped', async () => {
      const corrections = await listFeedback(store, { withCorrection: true });
      const created = correctionsToSuite(corrections, undefined, 'evals/copilot-feedback.yaml', {
        suiteName: 'copilot-feedback',
        agent: 'policy-copilot',
      });
      const suite = parseEvalSuite(created.text, 'evals/copilot-feedback.yaml');
      expect(suite).toMatchObject({ name: 'copilot-feedback', agent: 'policy-copilot' });
      expect(suite.cases).toEqual([
        expect.objectContaining({
          id: created.added[0],
          input: 'How much parental leave do I get?',
          expect: {
            judge: expect.objectContaining({ agent: 'answer-judge', rubric: expect.stringContaining('Birth parents get 16 weeks.') }),
          },
        }),
      ]);
      const again = correctionsToSuite(corrections, created.text, 'evals/copilot-feedback.yaml', {
        suiteName: 'x',
        agent: 'policy-copilot',
      });
      expect(again.added).toEqual([]);
      expect(again.skipped[0]!.reason).toContain('already in evals/copilot-feedback.yaml');
      const existing =
        '# our hand-written cases\napiVersion: aifactory/v1\nkind: EvalSuite\nmetadata: { name: mine }\nspec:\n  cases:\n    - id: keep-me # stays\n      input: hi\n';
      const appended = correctionsToSuite(corrections, existing, 'evals/mine.yaml', {
        suiteName: 'mine',
        agent: 'policy-copilot',
        assert: 'contains',
      });
      expect(appended.text).toContain('# our hand-written cases');
      expect(appended.text).toContain('- id: keep-me # stays');
      expect(parseEvalSuite(appended.text, 'evals/mine.yaml').cases.map((evalCase) => [evalCase.id, evalCase.expect])).toEqual([
        ['keep-me', {}],
        [appended.added[0], { contains: 'Birth parents get 16 weeks.' }],
      ]);
    });
  });
}
