// Witnesses: copies of a store's signed checkpoints kept outside its database. A witness is a
// directory (ideally on another volume or machine: a mount, a synced folder) or an HTTP endpoint
// (`factory witness serve`). A witness keeps every checkpoint it is given, never only the newest:
// someone holding the seal key can sign a rewritten chain's head, but cannot make the witness
// forget the heads it already holds, so verification against it catches the rewrite.
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, SystemError, UserError } from '@aifactory/core';
import { checkpointJson, checkpointSignatureValid, parseCheckpoint, type Checkpoint } from './checkpoint.ts';

/** Where checkpoints are kept outside the database. */
export interface Witness {
  /** The directory or URL, as given. */
  readonly location: string;
  /** Hands a checkpoint to the witness; resolves once it is kept (a directory: appended; HTTP: answered 2xx). */
  submit(checkpoint: Checkpoint): Promise<void>;
  /** Every checkpoint the witness keeps for a store, in the order received. */
  checkpoints(storeId: string): Promise<Checkpoint[]>;
}

/**
 * The checkpoints a witness holds for a store that can vouch for it: of this store, signed by a
 * trusted key (any key when none is pinned), the signature verifying. The rest are only counted,
 * and the sentence a verifier warns with when there are any.
 */
export async function trustedCheckpoints(
  witness: Witness,
  storeId: string,
  trusted: readonly string[] | undefined,
): Promise<{ checkpoints: Checkpoint[]; skippedWarning?: string }> {
  const checkpoints: Checkpoint[] = [];
  let skipped = 0;
  for (const checkpoint of await witness.checkpoints(storeId)) {
    const trustedKey = !trusted || trusted.includes(checkpoint.keyId) || trusted.includes(checkpoint.publicKey);
    if (checkpoint.storeId === storeId && trustedKey && checkpointSignatureValid(checkpoint)) checkpoints.push(checkpoint);
    else skipped += 1;
  }
  if (skipped === 0) return { checkpoints };
  return {
    checkpoints,
    skippedWarning: `The witness holds ${skipped} checkpoint(s) for this store that are not signed by a trusted key; they were not used.`,
  };
}

/** Opens a witness: an http(s) URL, or else a directory path (created on first write). */
export function openWitness(target: string, options: { token?: string; fetch?: typeof fetch } = {}): Witness {
  if (typeof target !== 'string' || target.trim() === '')
    throw new UserError(ErrorCode.InputInvalid, 'A witness is a directory path or an http(s) URL; got an empty value.');
  if (/^https?:\/\//i.test(target)) return new HttpWitness(target, options.token, options.fetch ?? fetch);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target))
    throw new UserError(ErrorCode.InputInvalid, `Witness '${target}' is neither a directory nor an http(s) URL.`);
  return new DirectoryWitness(target);
}

/** The witness named by AIFACTORY_WITNESS (and AIFACTORY_WITNESS_TOKEN), if set. */
export function witnessFromEnvironment(env: NodeJS.ProcessEnv = process.env): Witness | undefined {
  const target = env.AIFACTORY_WITNESS?.trim();
  if (!target) return undefined;
  return openWitness(target, env.AIFACTORY_WITNESS_TOKEN ? { token: env.AIFACTORY_WITNESS_TOKEN } : {});
}

const storeIdPattern = /^[\w.:-]{1,100}$/;

function checkStoreId(storeId: string): void {
  // The store id names a file: never a path.
  if (!storeIdPattern.test(storeId) || storeId.includes('..'))
    throw new UserError(ErrorCode.InputInvalid, `Store id '${storeId}' is invalid; use 1-100 letters, digits and . _ : -.`);
}

/** Parses a witness log (JSONL of checkpoints); lines that are not checkpoints are skipped (they cannot vouch for anything). */
export function parseWitnessLog(text: string): Checkpoint[] {
  const checkpoints: Checkpoint[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const parsed = parseCheckpoint(value);
    if (typeof parsed !== 'string') checkpoints.push(parsed);
  }
  return checkpoints;
}

/** A directory of `<store id>.jsonl` logs, one appended line per checkpoint. */
export class DirectoryWitness implements Witness {
  readonly location: string;

  constructor(directory: string) {
    this.location = directory;
  }

  /** The log file of a store. */
  file(storeId: string): string {
    checkStoreId(storeId);
    return path.join(this.location, `${storeId.replace(/:/g, '_')}.jsonl`);
  }

  async submit(checkpoint: Checkpoint): Promise<void> {
    const file = this.file(checkpoint.storeId);
    try {
      await mkdir(this.location, { recursive: true });
      // One write per line with O_APPEND: lines of concurrent writers never interleave.
      await appendFile(file, `${JSON.stringify({ ...checkpointJson(checkpoint), received_at: new Date().toISOString() })}\n`, {
        flag: 'a',
      });
    } catch (error) {
      throw new SystemError(
        ErrorCode.StoreUnavailable,
        `Could not write a checkpoint to witness '${this.location}': ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async checkpoints(storeId: string): Promise<Checkpoint[]> {
    const file = this.file(storeId);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        // A missing directory is a wrong path, not a witness that holds nothing yet.
        const directory = await stat(this.location).catch(() => undefined);
        if (!directory?.isDirectory()) throw new UserError(ErrorCode.NotFound, `Witness directory '${this.location}' does not exist.`);
        return [];
      }
      throw new SystemError(ErrorCode.StoreUnavailable, `Could not read witness '${this.location}': ${(error as Error).message}`, {
        cause: error,
      });
    }
    return parseWitnessLog(text);
  }
}

/** A witness served over HTTP (`factory witness serve`): POST /v1/checkpoints, GET /v1/stores/<id>/checkpoints. */
export class HttpWitness implements Witness {
  readonly location: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(url: string, token: string | undefined, fetcher: typeof fetch) {
    this.location = url.replace(/\/+$/, '');
    this.#token = token;
    this.#fetch = fetcher;
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...extra, ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}) };
  }

  async submit(checkpoint: Checkpoint): Promise<void> {
    let response: Response;
    try {
      response = await this.#fetch(`${this.location}/v1/checkpoints`, {
        method: 'POST',
        headers: this.#headers({ 'content-type': 'application/json' }),
        body: JSON.stringify(checkpointJson(checkpoint)),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new SystemError(ErrorCode.StoreUnavailable, `Witness ${this.location} is unreachable: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!response.ok) {
      const body = await response.text().catch(() => '');
      if (response.status === 409)
        throw new UserError(
          ErrorCode.Conflict,
          `Witness ${this.location} refused checkpoint ${checkpoint.sealSeq}: it keeps a different seal at that place (${body.slice(0, 200)}).`,
        );
      throw new SystemError(
        ErrorCode.StoreUnavailable,
        `Witness ${this.location} answered ${response.status} to a checkpoint: ${body.slice(0, 200)}`,
      );
    }
  }

  async checkpoints(storeId: string): Promise<Checkpoint[]> {
    checkStoreId(storeId);
    let response: Response;
    try {
      response = await this.#fetch(`${this.location}/v1/stores/${encodeURIComponent(storeId)}/checkpoints`, {
        headers: this.#headers(),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new SystemError(ErrorCode.StoreUnavailable, `Witness ${this.location} is unreachable: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (response.status === 404) return [];
    if (!response.ok)
      throw new SystemError(
        ErrorCode.StoreUnavailable,
        `Witness ${this.location} answered ${response.status} when asked for store ${storeId}'s checkpoints.`,
      );
    return parseWitnessLog(await response.text());
  }
}
