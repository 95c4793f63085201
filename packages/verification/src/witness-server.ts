// A minimal witness over HTTP (`factory witness serve`): it keeps every signed checkpoint it is
// given, per store, in a directory, and hands them back to verifiers. Two routes, so node:http
// and no framework. It refuses what would let history be rewritten through it: a checkpoint
// whose signature does not verify, one signed by a key other than the store's (the first key it
// saw for that store, or the keys it was started with), and a second, different seal at a place
// it already holds (answered 409 and kept as evidence in `<store>.conflicts.jsonl`).
import { appendFile, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkpointJson, checkpointSignatureValid, parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { DirectoryWitness, parseWitnessLog } from './witness.ts';

/** Options of startWitnessServer. */
export interface WitnessServerOptions {
  /** Where the logs are kept. */
  directory: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Keys allowed to submit (key ids or SPKI base64); default: the first key seen per store. */
  trustedKeys?: readonly string[];
  /** Bearer token required to submit checkpoints (reading stays open: checkpoints are public hashes). */
  token?: string;
}

/** A running witness server. */
export interface WitnessServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

interface StoreLog {
  bySeq: Map<number, string>;
  keyId: string | undefined;
}

const maxBody = 16 * 1024;

/** Starts a witness server; resolves once it listens. */
export async function startWitnessServer(options: WitnessServerOptions): Promise<WitnessServer> {
  const directory = new DirectoryWitness(options.directory);
  const logs = new Map<string, Promise<StoreLog>>();
  let turn: Promise<unknown> = Promise.resolve();

  const loadLog = (storeId: string): Promise<StoreLog> => {
    let log = logs.get(storeId);
    if (!log) {
      log = readFile(directory.file(storeId), 'utf8')
        .catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '' : Promise.reject(error)))
        .then((text) => {
          const held = parseWitnessLog(text);
          return { bySeq: new Map(held.map((checkpoint) => [checkpoint.sealSeq, checkpoint.sealHash])), keyId: held[0]?.keyId };
        });
      logs.set(storeId, log);
    }
    return log;
  };

  const accept = async (checkpoint: Checkpoint): Promise<{ status: number; body: Record<string, unknown> }> => {
    if (!checkpointSignatureValid(checkpoint))
      return { status: 400, body: { error: 'The checkpoint signature does not verify with the key it names.' } };
    if (options.trustedKeys && !options.trustedKeys.some((key) => key === checkpoint.keyId || key === checkpoint.publicKey)) {
      return { status: 403, body: { error: `Key ${checkpoint.keyId} is not one this witness accepts.` } };
    }
    const log = await loadLog(checkpoint.storeId);
    if (!options.trustedKeys && log.keyId !== undefined && log.keyId !== checkpoint.keyId) {
      return { status: 403, body: { error: `Store ${checkpoint.storeId} is witnessed for key ${log.keyId}, not ${checkpoint.keyId}.` } };
    }
    const held = log.bySeq.get(checkpoint.sealSeq);
    if (held === checkpoint.sealHash) return { status: 200, body: { ok: true, kept: 'already' } };
    if (held !== undefined) {
      await appendFile(
        `${directory.file(checkpoint.storeId).replace(/\.jsonl$/, '')}.conflicts.jsonl`,
        `${JSON.stringify({ ...checkpointJson(checkpoint), received_at: new Date().toISOString(), held_seal_hash: held })}\n`,
      );
      return {
        status: 409,
        body: {
          error: `Seal ${checkpoint.sealSeq} of store ${checkpoint.storeId} is already witnessed with seal hash ${held}; a different one is a rewritten history.`,
        },
      };
    }
    await directory.submit(checkpoint);
    log.bySeq.set(checkpoint.sealSeq, checkpoint.sealHash);
    log.keyId ??= checkpoint.keyId;
    return { status: 201, body: { ok: true, kept: 'new' } };
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://witness');
    const send = (status: number, body: Record<string, unknown> | string, type = 'application/json') => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (request.method === 'POST' && url.pathname === '/v1/checkpoints') {
      if (options.token && request.headers.authorization !== `Bearer ${options.token}`)
        return send(401, { error: 'A bearer token is required to submit checkpoints.' });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request) {
        size += (chunk as Buffer).length;
        if (size > maxBody) return send(413, { error: `A checkpoint is at most ${maxBody} bytes.` });
        chunks.push(chunk as Buffer);
      }
      let value: unknown;
      try {
        value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(400, { error: 'The body is not JSON.' });
      }
      const checkpoint = parseCheckpoint(value);
      if (typeof checkpoint === 'string') return send(400, { error: `Invalid checkpoint: ${checkpoint}.` });
      // One store log is changed at a time, so a conflict check and its append are one step.
      const result = turn.then(() => accept(checkpoint));
      turn = result.catch(() => undefined);
      const { status, body } = await result;
      return send(status, body);
    }
    const match = /^\/v1\/stores\/([^/]+)\/checkpoints$/.exec(url.pathname);
    if (request.method === 'GET' && match) {
      let storeId: string;
      let file: string;
      try {
        storeId = decodeURIComponent(match[1]!);
        file = directory.file(storeId);
      } catch {
        return send(400, { error: 'Invalid store id.' });
      }
      await turn;
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) =>
        error.code === 'ENOENT' ? undefined : Promise.reject(error),
      );
      if (text === undefined) return send(404, { error: `No checkpoints for store ${storeId}.` });
      return send(200, text, 'application/x-ndjson');
    }
    if (request.method === 'GET' && url.pathname === '/healthz') return send(200, { ok: true });
    return send(404, { error: 'Not found: POST /v1/checkpoints, GET /v1/stores/<store id>/checkpoints.' });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'The witness could not keep the checkpoint.' }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
