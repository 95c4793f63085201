// LangGraph's checkpointer over the shared store (PGlite or Postgres, through drizzle), so a run
// held for approval in one process can be resumed by another. The layout follows LangGraph's own
// Postgres saver: the checkpoint row holds everything but the channel values, which are stored
// once per channel version in checkpoint_blobs, so a step writes only the channels it changed.
// Checkpoints hold the real arguments and tool results a held run resumes with, so they cannot be
// redacted: every serialised value is encrypted (AES-256-GCM, the workspace's at-rest key) and
// bound to its row, and the queryable copy of the metadata holds keyed hashes, not values. A row
// in plain text is refused on read, never trusted.
import type { RunnableConfig } from '@langchain/core/runnables';
import {
  BaseCheckpointSaver,
  TASKS,
  WRITES_IDX_MAP,
  compareWritesSortKeys,
  copyCheckpoint,
  getCheckpointId,
  maxChannelVersion,
  writesSortKey,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
} from '@langchain/langgraph-checkpoint';
import { ErrorCode, SystemError, UserError, canonicalJson } from '@aifactory/core';
import { storeUnavailable, type Store } from '@aifactory/store';
import type { AtRestCipher } from '@aifactory/verification';
import {
  deleteThreadCheckpoints,
  insertCheckpointWithBlobs,
  insertCheckpointWrites,
  selectCheckpointBlobsAt,
  selectCheckpointWritesOf,
  selectCheckpointsWhere,
  type CheckpointRow,
  type CheckpointRowFilter,
  type CheckpointWriteRow as WriteRow,
} from './checkpoint-rows.ts';

/** Options of a StoreCheckpointSaver. */
export interface StoreCheckpointSaverOptions {
  /** Encrypts every stored value (see loadAtRestCipher); required, so nothing is written in plain text. */
  cipher: AtRestCipher;
  /** Serializer for checkpoints, metadata and writes (default: LangGraph's JsonPlusSerializer). */
  serde?: SerializerProtocol;
  /**
   * Called before anything of a thread (a run) is written; throwing refuses the write. The runtime
   * checks there that this process still owns the run, so a process that lost its lease cannot
   * leave a checkpoint behind that its new owner would resume from.
   */
  beforeWrite?: (threadId: string) => Promise<void>;
  /**
   * Checkpoints nothing will resume from, which are not stored: the runtime passes
   * endedRunCheckpoint (a run whose graph ended completed or failed; its trace says how, and a
   * process that dies before recording that recovers as after any crash between checkpoints).
   */
  skip?: (checkpoint: Checkpoint) => boolean;
}

/** Type prefix of an encrypted value; the rest is the serializer's own type. */
export const sealedTypePrefix = 'aes256gcm+';

/** Where each stored value lives; the cipher binds a value to it, so rows cannot be swapped. */
export const checkpointContexts = {
  blob: (row: { threadId: string; checkpointNs: string; channel: string; version: string }) =>
    `checkpoint_blobs|${JSON.stringify([row.threadId, row.checkpointNs, row.channel, row.version])}`,
  checkpoint: (row: { threadId: string; checkpointNs: string; checkpointId: string }) =>
    `checkpoints.checkpoint|${JSON.stringify([row.threadId, row.checkpointNs, row.checkpointId])}`,
  metadata: (row: { threadId: string; checkpointNs: string; checkpointId: string }) =>
    `checkpoints.metadata|${JSON.stringify([row.threadId, row.checkpointNs, row.checkpointId])}`,
  write: (row: { threadId: string; checkpointNs: string; checkpointId: string; taskId: string; idx: number }) =>
    `checkpoint_writes|${JSON.stringify([row.threadId, row.checkpointNs, row.checkpointId, row.taskId, row.idx])}`,
};

/** The checkpoint as stored: everything but the channel values. */
type StoredCheckpoint = Omit<Checkpoint, 'channel_values'>;

/** A LangGraph checkpointer that persists threads in the aifactory store. */
export class StoreCheckpointSaver extends BaseCheckpointSaver {
  readonly #store: Store;
  readonly #beforeWrite: ((threadId: string) => Promise<void>) | undefined;
  readonly #skip: ((checkpoint: Checkpoint) => boolean) | undefined;
  readonly #cipher: AtRestCipher;
  /** Threads the runtime has just started, whose first read needs no query (see threadStarted). */
  readonly #fresh = new Set<string>();

  constructor(store: Store, options: StoreCheckpointSaverOptions) {
    super(options?.serde);
    if (!options?.cipher)
      throw new UserError(
        ErrorCode.InputInvalid,
        'StoreCheckpointSaver needs a cipher (loadAtRestCipher(dataDir)); checkpoints are never stored in plain text.',
      );
    this.#store = store;
    this.#beforeWrite = options.beforeWrite;
    this.#skip = options.skip;
    this.#cipher = options.cipher;
  }

  /** Serialises and encrypts a value for the row named by context. */
  async #dump(value: unknown, context: string): Promise<[string, Uint8Array]> {
    const [type, bytes] = await this.serde.dumpsTyped(value);
    const plain = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    return [`${sealedTypePrefix}${type}`, this.#cipher.seal(plain, context)];
  }

  /** Opens and deserialises a stored value; a plain-text row is refused. */
  async #load(type: string | null, bytes: Uint8Array, context: string): Promise<unknown> {
    if (!type?.startsWith(sealedTypePrefix)) {
      throw new SystemError(
        ErrorCode.Internal,
        `The checkpoint value at ${context} is stored in plain text (type '${type ?? 'json'}'); only encrypted checkpoints are read.`,
      );
    }
    return this.serde.loadsTyped(type.slice(sealedTypePrefix.length), this.#cipher.open(bytes, context));
  }

  /**
   * Says that a thread was just created for a new run (its run row was inserted, so its id was
   * never used): it has no checkpoint yet, and the graph's first read of it is answered without a
   * round trip to the store. The mark is used once.
   */
  threadStarted(threadId: string): void {
    this.#fresh.add(threadId);
  }

  /** Returns the checkpoint named by config, or the thread's latest when no checkpoint_id is given. */
  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = config.configurable?.thread_id as unknown;
    if (threadId === undefined || threadId === null) return undefined;
    const checkpointNs = String(config.configurable?.checkpoint_ns ?? '');
    const checkpointId = getCheckpointId(config);
    if (this.#fresh.delete(String(threadId)) && checkpointNs === '' && !checkpointId) return undefined;
    const [tuple] = await reachable(`read the checkpoint of run '${String(threadId)}'`, async () =>
      this.#toTuples(
        await selectCheckpointsWhere(
          this.#store,
          { threadId: String(threadId), checkpointNs, ...(checkpointId ? { checkpointId: String(checkpointId) } : {}) },
          1,
        ),
      ),
    );
    return tuple;
  }

  /** Lists checkpoints newest first, narrowed by thread, namespace, metadata filter and `before`. */
  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    const { filter, before, limit } = options;
    const rowFilter: CheckpointRowFilter = {};
    const configurable = config.configurable ?? {};
    if (configurable.thread_id !== undefined && configurable.thread_id !== null && configurable.thread_id !== '') {
      rowFilter.threadId = String(configurable.thread_id);
    }
    if (configurable.checkpoint_ns !== undefined && configurable.checkpoint_ns !== null) {
      rowFilter.checkpointNs = String(configurable.checkpoint_ns);
    }
    if (configurable.checkpoint_id) rowFilter.checkpointId = String(configurable.checkpoint_id);
    const beforeId = before?.configurable?.checkpoint_id as unknown;
    if (beforeId !== undefined && beforeId !== null) rowFilter.beforeId = String(beforeId);
    // Exact equality per key (a value undefined: the key absent), as LangGraph's in-memory saver does.
    rowFilter.metadata = Object.entries(filter ?? {}).map(([key, value]) => [
      key,
      value === undefined ? undefined : this.#metadataDigest(value),
    ]);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
      throw new UserError(ErrorCode.InputInvalid, `Checkpoint list limit ${String(limit)} is invalid; use a whole number of at least 0.`);
    }
    if (limit === 0) return;
    yield* await reachable('list checkpoints', async () => this.#toTuples(await selectCheckpointsWhere(this.#store, rowFilter, limit)));
  }

  /** Stores a checkpoint, and the values of the channels named in newVersions. */
  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const threadId = requireThreadId(config, 'put a checkpoint');
    const checkpointNs = String(config.configurable?.checkpoint_ns ?? '');
    // Not stored, and nothing read or encrypted for it (a run's whole conversation, at its end).
    if (this.#skip?.(checkpoint))
      return { configurable: { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: checkpoint.id } };
    await this.#beforeWrite?.(threadId);
    const parentCheckpointId = config.configurable?.checkpoint_id as string | undefined;
    const copy = copyCheckpoint(checkpoint);
    const { channel_values: values, ...stored } = copy;
    const blobs = await Promise.all(
      Object.entries(newVersions).map(async ([channel, version]) => {
        const present = Object.prototype.hasOwnProperty.call(values, channel) && values[channel] !== undefined;
        const key = { threadId, checkpointNs, channel, version: String(version) };
        const [type, blob] = present ? await this.#dump(values[channel], checkpointContexts.blob(key)) : ['empty', null];
        return { ...key, type, blob };
      }),
    );
    const rowKey = { threadId, checkpointNs, checkpointId: checkpoint.id };
    const [[checkpointType, checkpointBytes], [metadataType, metadataBytes]] = await Promise.all([
      this.#dump(stored, checkpointContexts.checkpoint(rowKey)),
      this.#dump(metadata, checkpointContexts.metadata(rowKey)),
    ]);
    const row = {
      threadId,
      checkpointNs,
      checkpointId: checkpoint.id,
      parentCheckpointId: parentCheckpointId ?? null,
      type: checkpointType,
      checkpoint: checkpointBytes,
      metadataType,
      metadata: metadataBytes,
      metadataJson: this.#queryableMetadata(metadata),
    };
    // The channel values and the checkpoint that points at them in one statement (see insertCheckpointWithBlobs).
    await reachable(`store the checkpoint of run '${threadId}'`, () => insertCheckpointWithBlobs(this.#store, row, blobs));
    return { configurable: { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: checkpoint.id } };
  }

  /** Stores a task's writes against a checkpoint; a regular write is kept once, special ones (errors, interrupts) are replaced. */
  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const threadId = requireThreadId(config, 'put writes');
    await this.#beforeWrite?.(threadId);
    const checkpointId = config.configurable?.checkpoint_id as unknown;
    if (checkpointId === undefined || checkpointId === null || checkpointId === '') {
      throw new UserError(ErrorCode.InputInvalid, 'Cannot put writes: the config has no configurable.checkpoint_id.');
    }
    const checkpointNs = String(config.configurable?.checkpoint_ns ?? '');
    const rows = await Promise.all(
      writes.map(async ([channel, value], index) => {
        const idx = WRITES_IDX_MAP[channel] ?? index;
        const key = { threadId, checkpointNs, checkpointId: String(checkpointId), taskId, idx };
        const [type, serialized] = await this.#dump(value, checkpointContexts.write(key));
        return { ...key, taskPath: taskPath ?? '', channel, type, value: serialized };
      }),
    );
    // One statement cannot touch the same key twice, so keep the last write per index.
    const unique = [...new Map(rows.map((row) => [row.idx, row])).values()];
    const regular = unique.filter((row) => row.idx >= 0);
    const special = unique.filter((row) => row.idx < 0);
    await reachable(`store the pending writes of run '${threadId}'`, () => insertCheckpointWrites(this.#store, regular, special));
  }

  /** Deletes every checkpoint, channel value and write of a thread. */
  async deleteThread(threadId: string): Promise<void> {
    await reachable(`delete the checkpoints of run '${threadId}'`, () => deleteThreadCheckpoints(this.#store, threadId));
  }

  /**
   * The jsonb copy of the metadata that list filters compare: each top-level value as a keyed hash
   * of its canonical JSON, so equality filters work and no value is readable. Metadata that cannot
   * be expressed as JSON is simply not filterable (the encrypted copy is complete).
   */
  #queryableMetadata(metadata: CheckpointMetadata): Record<string, string> {
    const digests: Record<string, string> = {};
    for (const [key, value] of Object.entries(metadata ?? {})) {
      if (value === undefined) continue;
      try {
        digests[key.replaceAll('\0', '')] = this.#metadataDigest(value);
      } catch {
        // Not JSON (a function, a cycle): left out of the filterable copy.
      }
    }
    return digests;
  }

  #metadataDigest(value: unknown): string {
    return this.#cipher.digest(canonicalJson(value));
  }

  /** Turns checkpoint rows into tuples with three queries in all: rows, their channel values, their writes. */
  async #toTuples(rows: CheckpointRow[]): Promise<CheckpointTuple[]> {
    if (rows.length === 0) return [];
    const stored = await Promise.all(
      rows.map((row) => this.#load(row.type, row.checkpoint, checkpointContexts.checkpoint(row)) as Promise<StoredCheckpoint>),
    );
    const [values, writes] = await Promise.all([this.#channelValues(rows, stored), this.#writes(rows)]);
    const parentSends = await this.#pendingSendsOfParents(rows, stored);
    return Promise.all(
      rows.map(async (row, index) => {
        const checkpoint: Checkpoint = { ...stored[index]!, channel_values: values[index]! };
        const sends = row.parentCheckpointId
          ? parentSends.get(groupKey(row.threadId, row.checkpointNs, row.parentCheckpointId))
          : undefined;
        if (checkpoint.v < 4 && sends && sends.length > 0) await this.#migratePendingSends(checkpoint, sends);
        const configurable = { thread_id: row.threadId, checkpoint_ns: row.checkpointNs };
        const tuple: CheckpointTuple = {
          config: { configurable: { ...configurable, checkpoint_id: row.checkpointId } },
          checkpoint,
          metadata: (await this.#load(row.metadataType, row.metadata, checkpointContexts.metadata(row))) as CheckpointMetadata,
          pendingWrites: await this.#loadWrites(writes.get(groupKey(row.threadId, row.checkpointNs, row.checkpointId)) ?? []),
        };
        if (row.parentCheckpointId) tuple.parentConfig = { configurable: { ...configurable, checkpoint_id: row.parentCheckpointId } };
        return tuple;
      }),
    );
  }

  /** Loads the channel values each checkpoint's channel_versions point at. */
  async #channelValues(rows: CheckpointRow[], stored: StoredCheckpoint[]): Promise<Array<Record<string, unknown>>> {
    const wanted = new Map<string, { threadId: string; checkpointNs: string; pairs: Map<string, [string, string]> }>();
    rows.forEach((row, index) => {
      const key = groupKey(row.threadId, row.checkpointNs);
      let group = wanted.get(key);
      if (!group) wanted.set(key, (group = { threadId: row.threadId, checkpointNs: row.checkpointNs, pairs: new Map() }));
      for (const [channel, version] of Object.entries(stored[index]!.channel_versions ?? {})) {
        group.pairs.set(groupKey(channel, String(version)), [channel, String(version)]);
      }
    });
    const found = new Map<string, { type: string; blob: Uint8Array | null }>();
    await Promise.all(
      [...wanted.values()]
        .filter((group) => group.pairs.size > 0)
        .map(async (group) => {
          const blobs = await selectCheckpointBlobsAt(this.#store, group.threadId, group.checkpointNs, [...group.pairs.values()]);
          for (const blob of blobs) found.set(groupKey(blob.threadId, blob.checkpointNs, blob.channel, blob.version), blob);
        }),
    );
    return Promise.all(
      rows.map(async (row, index) => {
        const entries: Array<[string, unknown]> = [];
        for (const [channel, version] of Object.entries(stored[index]!.channel_versions ?? {})) {
          const blob = found.get(groupKey(row.threadId, row.checkpointNs, channel, String(version)));
          if (!blob || blob.type === 'empty' || blob.blob === null) continue;
          entries.push([
            channel,
            await this.#load(
              blob.type,
              blob.blob,
              checkpointContexts.blob({ threadId: row.threadId, checkpointNs: row.checkpointNs, channel, version: String(version) }),
            ),
          ]);
        }
        // fromEntries defines own properties, so a channel named "__proto__" cannot reach the prototype.
        return Object.fromEntries(entries);
      }),
    );
  }

  /** Loads the writes of the given checkpoints, grouped by checkpoint. */
  async #writes(
    rows: Array<Pick<CheckpointRow, 'threadId' | 'checkpointNs' | 'checkpointId'>>,
    channel?: string,
  ): Promise<Map<string, WriteRow[]>> {
    const groups = new Map<string, { threadId: string; checkpointNs: string; ids: Set<string> }>();
    for (const row of rows) {
      const key = groupKey(row.threadId, row.checkpointNs);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { threadId: row.threadId, checkpointNs: row.checkpointNs, ids: new Set() }));
      group.ids.add(row.checkpointId);
    }
    const byCheckpoint = new Map<string, WriteRow[]>();
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const writes = await selectCheckpointWritesOf(this.#store, group.threadId, group.checkpointNs, [...group.ids], channel);
        for (const write of writes) {
          const key = groupKey(write.threadId, write.checkpointNs, write.checkpointId);
          const list = byCheckpoint.get(key);
          if (list) list.push(write);
          else byCheckpoint.set(key, [write]);
        }
      }),
    );
    // LangGraph replays a superstep's writes in (task_path, task_id, idx) order; so must we.
    for (const list of byCheckpoint.values()) {
      list.sort((left, right) =>
        compareWritesSortKeys(writesSortKey(left.taskPath, left.taskId, left.idx), writesSortKey(right.taskPath, right.taskId, right.idx)),
      );
    }
    return byCheckpoint;
  }

  async #loadWrites(rows: WriteRow[]): Promise<CheckpointPendingWrite[]> {
    return Promise.all(
      rows.map(
        async (row) =>
          [
            row.taskId,
            row.channel,
            row.value === null ? undefined : await this.#load(row.type, row.value, checkpointContexts.write(row)),
          ] as CheckpointPendingWrite,
      ),
    );
  }

  /** Checkpoints older than format 4 kept pending sends as writes on their parent. */
  async #pendingSendsOfParents(rows: CheckpointRow[], stored: StoredCheckpoint[]): Promise<Map<string, WriteRow[]>> {
    const parents = rows
      .filter((row, index) => stored[index]!.v < 4 && row.parentCheckpointId)
      .map((row) => ({ threadId: row.threadId, checkpointNs: row.checkpointNs, checkpointId: row.parentCheckpointId! }));
    if (parents.length === 0) return new Map();
    return this.#writes(parents, TASKS);
  }

  async #migratePendingSends(checkpoint: Checkpoint, sends: WriteRow[]): Promise<void> {
    const values = await this.#loadWrites(sends);
    checkpoint.channel_values[TASKS] = values.map(([, , value]) => value);
    const versions = Object.values(checkpoint.channel_versions);
    checkpoint.channel_versions = {
      ...checkpoint.channel_versions,
      [TASKS]: versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined),
    };
  }
}

function requireThreadId(config: RunnableConfig, what: string): string {
  const threadId = config.configurable?.thread_id as unknown;
  if (threadId === undefined || threadId === null || threadId === '') {
    throw new UserError(
      ErrorCode.InputInvalid,
      `Cannot ${what}: the config has no configurable.thread_id; pass { configurable: { thread_id } }.`,
    );
  }
  return String(threadId);
}

/** A collision-free map key for a tuple of strings. */
function groupKey(...parts: string[]): string {
  return JSON.stringify(parts);
}

/**
 * Runs a checkpoint query; a lost or refused connection (a Postgres restart) becomes
 * STORE_UNAVAILABLE, so the runtime leaves the run to recovery instead of failing it.
 */
async function reachable<T>(doing: string, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (error) {
    throw storeUnavailable(error, doing);
  }
}
