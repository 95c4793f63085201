// A held prompt promotion decided over HTTP, as the console decides it: `POST
// /v1/approvals/{id}/approve` by a prompt owner completes the promotion on the server (the
// production label moves, recorded) without anyone running `factory prompts promote` again; a
// rejection records the promotion as refused and leaves the label where it was. The registry
// parts are the real ones (publish, the eval record, the shipped promotion policy) on PGlite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compilePolicies, loadPolicyFiles } from '@aifactory/control';
import {
  labelHistory,
  parsePromptDocument,
  promotePrompt,
  promptLabels,
  publishPrompt,
  recordEvalResult,
  refusedPromotions,
  type EvalReport,
} from '@aifactory/quality';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { openStore, type Store } from '@aifactory/store';
import { workspaceConfigAt } from '@aifactory/workspace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repository = path.resolve(import.meta.dirname, '..', '..', '..');
const promotionPolicy = path.join(repository, 'policies', 'prompt-promotion', 'policy.yaml');

describe('a held prompt promotion approved over HTTP', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'aif-promotion-http-'));
  let store: Store;
  let server: RunningServer;
  let owner: string;

  beforeAll(async () => {
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(root, { policiesDir: path.join(root, 'policies'), agentsDir: path.join(root, 'agents') }),
      port: 0,
      log: () => undefined,
      recovery: false,
      llmGateway: false,
    });
    owner = (await createApiToken(store, { principal: 'bob@acme.example', roles: ['approver', 'prompt-owner'] })).token;
    const parts = { store, recorder: server.workspace.recorder };
    for (const template of ['You are the desk of {{shop}}.', 'You are the order desk of {{shop}}. Answer briefly.']) {
      const document = parsePromptDocument(
        `apiVersion: aifactory/v1\nkind: Prompt\nmetadata: { name: desk, owner: shop@acme.example }\nspec:\n  template: ${JSON.stringify(template)}\n  variables: { shop: { default: the shop } }\n`,
      );
      await publishPrompt(parts, document, 'alice@acme.example');
    }
    // A passing evaluation of each version on the record: what the promotion policy reads as `eval`.
    for (const version of [1, 2]) {
      const report: EvalReport = {
        suite: 'desk',
        file: 'desk-suite.yaml',
        agent: 'desk',
        startedAt: new Date().toISOString(),
        durationMs: 1,
        cases: [],
        scores: { accuracy: 1 },
        totals: { cases: 2, passed: 2, failed: 0, costUsd: 0 },
        failures: [],
        passed: true,
      };
      await recordEvalResult(server.workspace.recorder, report, { prompt: { name: 'desk', version } }, 'alice@acme.example');
    }
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** Asks to promote `version` to production as alice (a prompt owner): held for another owner. */
  async function holdPromotion(version: number) {
    const result = await promotePrompt(
      { store, recorder: server.workspace.recorder },
      {
        name: 'desk',
        version,
        label: 'production',
        by: { id: 'alice@acme.example', roles: ['prompt-owner'] },
        policies: compilePolicies(await loadPolicyFiles([promotionPolicy])),
        approvals: server.workspace.approvals,
      },
    );
    if (result.outcome !== 'held') throw new Error(`expected the promotion to be held, got ${result.outcome}`);
    return result;
  }

  const vote = (approvalId: string, kind: 'approve' | 'reject') =>
    fetch(`${server.url}/v1/approvals/${approvalId}/${kind}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
      body: JSON.stringify({ comment: kind === 'approve' ? 'Read it; ship it.' : 'Not this one.' }),
    });

  async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const value = await read();
      if (done(value) || Date.now() > deadline) return value;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it('moves the production label once a prompt owner approves over HTTP, with no second promote', async () => {
    const held = await holdPromotion(2);
    expect(await promptLabels(store, 'desk')).toEqual({});
    const response = await vote(held.approvalId, 'approve');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: 'approved', approval: { id: held.approvalId, status: 'approved' } });
    const labels = await until(
      () => promptLabels(store, 'desk'),
      (value) => value.production !== undefined,
    );
    expect(labels).toEqual({ production: 2 });
    const moves = await labelHistory(store, 'desk');
    expect(moves.find((move) => move.label === 'production')).toMatchObject({ record: held.record, version: 2 });
    // The approval is used: asking again with it reports how the promotion ended, and moves nothing twice.
    const again = await promotePrompt(
      { store, recorder: server.workspace.recorder },
      {
        name: 'desk',
        version: 2,
        label: 'production',
        by: { id: 'alice@acme.example', roles: ['prompt-owner'] },
        policies: compilePolicies(await loadPolicyFiles([promotionPolicy])),
        approvals: server.workspace.approvals,
        approvalId: held.approvalId,
      },
    );
    expect(again).toMatchObject({ outcome: 'promoted', record: held.record });
    expect((await labelHistory(store, 'desk')).filter((move) => move.label === 'production')).toHaveLength(1);
  });

  it('records the promotion as refused once a prompt owner rejects it over HTTP; the label stays', async () => {
    const held = await holdPromotion(1);
    const response = await vote(held.approvalId, 'reject');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: 'rejected' });
    const refused = await until(
      () => refusedPromotions(store, 'desk'),
      (value) => value.some((refusal) => refusal.record === held.record),
    );
    expect(refused).toContainEqual(expect.objectContaining({ record: held.record, version: 1, label: 'production' }));
    expect(await promptLabels(store, 'desk')).toEqual({ production: 2 });
  });
});
