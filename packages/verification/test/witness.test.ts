// The witness as users run it: `factory witness serve`'s server on loopback, recorders handing it
// checkpoints over HTTP, verification reading them back, and the witness refusing what would let
// history be rewritten through it (a forged signature, a foreign key, a second seal at one place).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, sql, type Store } from '@aifactory/store';
import {
  checkpointJson,
  createRecorder,
  createSigner,
  exportJsonl,
  openWitness,
  signCheckpoint,
  startWitnessServer,
  verifyAll,
  verifyExport,
  verifyRun,
  type WitnessServer,
} from '../src/index.ts';

describe('a witness served over HTTP', () => {
  let directory: string;
  let server: WitnessServer;
  let store: Store;
  const signer = createSigner(generateKeyPairSync('ed25519').privateKey);

  beforeAll(async () => {
    directory = mkdtempSync(path.join(tmpdir(), 'aifactory-witness-http-'));
    server = await startWitnessServer({ directory, token: 'witness-token' });
    store = await openStore();
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await store?.close();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  it('keeps every checkpoint a recorder hands it, and verification reads them back as the tail check', async () => {
    const witness = openWitness(server.url, { token: 'witness-token' });
    const errors: unknown[] = [];
    const recorder = createRecorder(store, { signer, witness, onWitnessError: (error) => errors.push(error) });
    await recorder.startRun({ id: 'w-1', agent: 'clerk', principal: 'alice' });
    await recorder.record('w-1', { type: 'run.held', actor: 'runtime', payload: { step: 1 } });
    await recorder.setStatus('w-1', 'held');
    await recorder.setStatus('w-1', 'running');
    await recorder.finishRun('w-1', { status: 'completed' });
    expect(errors).toEqual([]);
    const summary = await verifyAll(store, { trustedKeys: [signer.publicKey], witness: openWitness(server.url) });
    expect(summary.problem).toBeUndefined();
    expect(summary.tail).toMatchObject({ checkedBy: 'witness', headSeq: 3, checkedSeq: 3 });
    const checkpoints = await openWitness(server.url).checkpoints(summary.tail.storeId!);
    expect(checkpoints.map((checkpoint) => checkpoint.sealSeq)).toEqual([1, 2, 3]);
    expect((await verifyRun(store, 'w-1', { trustedKeys: [signer.publicKey], witness: openWitness(server.url) })).tail.checkedBy).toBe(
      'witness',
    );
  });

  it('refuses a submission without its token, a forged signature, a foreign key, and a second seal at a place it holds (kept as evidence)', async () => {
    const summary = await verifyAll(store, { trustedKeys: [signer.publicKey] });
    const storeId = summary.tail.storeId!;
    const post = (body: unknown, token = 'witness-token') =>
      fetch(`${server.url}/v1/checkpoints`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    const genuine = checkpointJson(signCheckpoint(signer, { storeId, sealSeq: 3, sealHash: summary.sealChain.head!.sealHash }));
    expect((await post(genuine)).status).toBe(200);
    expect((await post(genuine, 'wrong')).status).toBe(401);
    expect((await post({ ...genuine, seal_hash: 'f'.repeat(64) })).status).toBe(400);
    const stranger = createSigner(generateKeyPairSync('ed25519').privateKey);
    expect((await post(checkpointJson(signCheckpoint(stranger, { storeId, sealSeq: 9, sealHash: 'a'.repeat(64) })))).status).toBe(403);
    // The key holder rewriting history: a different seal at place 3.
    const rewritten = await post(checkpointJson(signCheckpoint(signer, { storeId, sealSeq: 3, sealHash: 'b'.repeat(64) })));
    expect(rewritten.status).toBe(409);
    expect(((await rewritten.json()) as { error: string }).error).toMatch(/already witnessed .* a different one is a rewritten history/);
    expect(readFileSync(path.join(directory, `${storeId}.conflicts.jsonl`), 'utf8')).toContain('b'.repeat(64));
    expect((await post({ store_id: '../etc', seal_seq: 1 })).status).toBe(400);
    expect((await fetch(`${server.url}/v1/stores/${storeId}/checkpoints`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/stores/nobody/checkpoints`)).status).toBe(404);
  });

  it('says plainly when a witness directory does not exist, and when a store has no checkpoint there', async () => {
    await expect(openWitness(path.join(directory, 'missing')).checkpoints('some-store')).rejects.toThrow(
      /Witness directory .* does not exist/,
    );
    const empty = mkdtempSync(path.join(tmpdir(), 'aifactory-witness-empty-'));
    try {
      const summary = await verifyAll(store, { trustedKeys: [signer.publicKey], witness: openWitness(empty) });
      expect(summary.tail.checkedBy).toBe('none');
      expect(summary.warnings.join('\n')).toMatch(/holds no checkpoint of store/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    expect(() => openWitness('ftp://example.com/w')).toThrow(/neither a directory nor an http\(s\) URL/);
  });
});

describe('an export checked against a witness (runs verify --file --witness)', () => {
  let directory: string;
  let store: Store;
  const signer = createSigner(generateKeyPairSync('ed25519').privateKey);
  const lines = async (filter: Parameters<typeof exportJsonl>[1] = {}) => {
    const all: string[] = [];
    for await (const line of exportJsonl(store, filter, { signer })) all.push(line.trimEnd());
    return all;
  };
  async function* iterate(all: string[]): AsyncGenerator<string> {
    yield* all;
  }

  beforeAll(async () => {
    directory = mkdtempSync(path.join(tmpdir(), 'aifactory-witness-export-'));
    store = await openStore();
    const recorder = createRecorder(store, { signer, witness: openWitness(directory) });
    for (const id of ['x-1', 'x-2', 'x-3']) {
      await recorder.startRun({ id, agent: 'clerk', principal: 'alice' });
      await recorder.record(id, {
        type: 'tool.called',
        actor: 'clerk',
        payload: { step: 1, name: 'payments.refund', args: { amount: 40 } },
      });
      await recorder.finishRun(id, { status: 'completed' });
    }
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  it('passes a complete export that reaches every witnessed checkpoint, and says so', async () => {
    const summary = await verifyExport(iterate(await lines()), { trustedKeys: [signer.keyId], witness: openWitness(directory) });
    expect(summary.problem).toBeUndefined();
    expect(summary.tail).toMatchObject({ checkedBy: 'witness', headSeq: 6, checkedSeq: 6 });
    expect(summary.tail.message).toMatch(/reaches every checkpoint witness .* holds/);
  });

  it('fails a complete export made after the newest run was removed, which the pinned key alone passes', async () => {
    let forged: string[];
    await store.query(sql.raw('BEGIN'));
    try {
      await store.query(sql.raw('SET LOCAL session_replication_role = replica'));
      await store.query(sql`DELETE FROM events WHERE run_id = 'x-3'`);
      await store.query(sql`DELETE FROM seals WHERE run_id = 'x-3'`);
      await store.query(sql`DELETE FROM runs WHERE id = 'x-3'`);
      forged = await lines();
    } finally {
      await store.query(sql.raw('ROLLBACK'));
    }
    expect(forged.some((line) => line.includes('"x-3"'))).toBe(false);
    expect((await verifyExport(iterate(forged), { trustedKeys: [signer.keyId] })).ok).toBe(true);
    const summary = await verifyExport(iterate(forged), { trustedKeys: [signer.keyId], witness: openWitness(directory) });
    expect(summary.ok).toBe(false);
    expect(summary.problem).toMatchObject({ kind: 'witness_mismatch', seq: 5 });
  });

  it('checks a selection against the checkpoints of the seals it carries, and an older export against runs made since', async () => {
    const selection = await lines({ runIds: ['x-2'] });
    const selected = await verifyExport(iterate(selection), { trustedKeys: [signer.keyId], witness: openWitness(directory) });
    expect(selected.problem).toBeUndefined();
    expect(selected.tail.message).toMatch(/seal\(s\) of this selection .* match them/);
    const older = await lines();
    const recorder = createRecorder(store, { signer, witness: openWitness(directory) });
    await recorder.startRun({ id: 'x-4', agent: 'clerk', principal: 'alice' });
    await recorder.finishRun('x-4', { status: 'completed' });
    const later = await verifyExport(iterate(older), { trustedKeys: [signer.keyId], witness: openWitness(directory) });
    expect(later.problem).toBeUndefined();
    expect(later.tail.message).toMatch(/2 checkpoint\(s\) newer than the export/);
  });
});
