// Named prepared statements on PGlite. PGlite's query() sends every statement unnamed, as six calls
// into the WASM backend (Parse, Describe, Bind, Describe, Execute, Sync), so the same statement is
// parsed and planned again on every call; the trace's append is one fixed statement run on every
// governed action, and that parsing and planning is most of what it costs (in-process, so all of it
// is the caller's CPU). PGlite has no API for named statements, hence the wire protocol here: the
// statement is parsed once per PGlite instance under a name, then each call is one Bind + Execute +
// Sync, written and read here. It takes the same two locks query() takes, so it never runs inside another caller's
// transaction nor between the messages of another caller's query, and syncs to the file system after
// each call as query() does wherever that sync does anything.
import type * as PgliteModule from '@electric-sql/pglite';
import type { PGlite } from '@electric-sql/pglite';

type Protocol = typeof PgliteModule.protocol;
type SyncToFs = NonNullable<PGlite['fs']>['syncToFs'];

/**
 * PGlite's wire-protocol serializer and parser, imported on first use (a process on Postgres never
 * loads PGlite) and kept, so no later call awaits an import.
 */
let protocol: Protocol | undefined;
/**
 * The file-system sync every built-in Emscripten file system inherits (a data directory on Node,
 * memory), which does nothing: PGlite awaits it behind a lock of its own after every statement, so
 * a call on such a client skips it. Any other file system (IndexedDB, OPFS) is synced as query() syncs it.
 */
let builtinSyncToFs: SyncToFs | undefined;

/** What a prepared statement returned: rows changed, and its rows (text columns, as the wire carries them). */
export interface PreparedResult {
  affectedRows: number;
  rows: Array<Array<string | null>>;
}

/** A parameter as the wire carries it: text, or null. */
export type PreparedParameter = string | number | bigint | boolean | null;

const statementNames = new WeakMap<PGlite, Map<string, string>>();

/**
 * Runs `text` with $1.. parameters as a named prepared statement of `client` (prepared on first use).
 * Parameters go as text, so the statement must say each one's type where the server cannot infer it
 * (`$1::int`). Rejects with PGlite's DatabaseError (its `code`, `constraint`) when the statement fails.
 */
export function runPrepared(client: PGlite, text: string, params: readonly PreparedParameter[]): Promise<PreparedResult> {
  let names = statementNames.get(client);
  if (!names) {
    names = new Map();
    statementNames.set(client, names);
  }
  const known = names;
  return client._runExclusiveTransaction(() =>
    client._runExclusiveQuery(async () => {
      // As query() does: a client still opening is waited for, a closed one refuses.
      if (!client.ready) await client._checkReady();
      const wire = protocol ?? (await loadProtocol());
      let name = known.get(text);
      if (name === undefined) {
        name = `aifactory_${known.size + 1}`;
        // Parsed on its own first, so a statement that does not parse is never remembered.
        readReply(wire, await exchange(client, Buffer.concat([wire.serialize.parse({ name, text }), wire.serialize.sync()])));
        known.set(text, name);
      }
      const reply = await exchange(client, bindExecuteSync(name, params));
      if (client.fs?.syncToFs !== builtinSyncToFs) await client.syncToFs();
      return readReply(wire, reply);
    }),
  );
}

async function loadProtocol(): Promise<Protocol> {
  const module = await import('@electric-sql/pglite');
  builtinSyncToFs = module.MemoryFS.prototype.syncToFs;
  protocol = module.protocol;
  return protocol;
}

/**
 * Sends `message` to the backend and returns its whole reply. execProtocolRawStream hands over each
 * chunk the backend writes as it is written: execProtocolRaw would also copy every chunk into
 * PGlite's own buffer and parse it into a list of messages only query() ever clears. The sync to the
 * file system is the caller's (see builtinSyncToFs).
 */
async function exchange(client: PGlite, message: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // Each chunk is a view of the backend's memory, which its next write reuses: copied at once.
  await client.execProtocolRawStream(message, { syncToFs: false, onRawData: (bytes) => chunks.push(Buffer.from(bytes)) });
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** Execute (the unnamed portal, every row) and Sync, as they go on the wire. */
const executeSync = Buffer.from([0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0x53, 0, 0, 0, 4]);
/**
 * Where messages are written, grown as needed up to 1 MB (a larger message gets a buffer of its own).
 * Safe to share: each message is consumed by the backend before anything else runs.
 */
let scratch = Buffer.allocUnsafe(4096);
const maxScratch = 1 << 20;

/**
 * Bind (of the unnamed portal to statement `name`, every parameter and column as text) + Execute +
 * Sync, written straight into one buffer. PGlite's serializer builds the same bytes through a writer
 * that starts again from 256 bytes and grows by copying for every message, counts UTF-8 lengths in
 * JavaScript and copies the result out twice: a third of a three-row append's CPU on the JavaScript
 * side. The buffer returned is only valid until the next call.
 */
function bindExecuteSync(name: string, params: readonly PreparedParameter[]): Uint8Array {
  if (params.length > 65_535) throw new RangeError(`A statement takes at most 65535 parameters, not ${params.length}.`);
  const values = params.map((value) => (value === null ? null : String(value)));
  // 'B', length, portal "" and statement name (C strings), 0 parameter formats (all text), the count,
  // each value's length (-1 for null) and bytes, 0 result formats (all text).
  let length = 1 + 4 + 1 + Buffer.byteLength(name) + 1 + 2 + 2 + 2;
  for (const value of values) length += value === null ? 4 : 4 + Buffer.byteLength(value);
  const total = length + executeSync.length;
  if (total > scratch.length && total <= maxScratch)
    scratch = Buffer.allocUnsafe(Math.min(maxScratch, Math.max(total, scratch.length * 2)));
  const buffer = total <= scratch.length ? scratch : Buffer.allocUnsafe(total);
  buffer[0] = 0x42;
  writeInt32(buffer, 1, length - 1);
  buffer[5] = 0;
  let offset = 6 + buffer.write(name, 6);
  buffer[offset++] = 0;
  writeInt32(buffer, offset, values.length); // 0 parameter formats, then the count (both 16-bit)
  offset += 4;
  for (const value of values) {
    if (value === null) {
      writeInt32(buffer, offset, -1);
      offset += 4;
    } else {
      const written = buffer.write(value, offset + 4);
      writeInt32(buffer, offset, written);
      offset += 4 + written;
    }
  }
  buffer[offset++] = 0; // 0 result formats
  buffer[offset++] = 0;
  executeSync.copy(buffer, offset);
  return buffer.subarray(0, total);
}

/** Writes a 32-bit big-endian integer; Buffer#writeInt32BE's range checks cost more than the write here. */
function writeInt32(buffer: Buffer, offset: number, value: number): void {
  buffer[offset] = value >>> 24;
  buffer[offset + 1] = value >>> 16;
  buffer[offset + 2] = value >>> 8;
  buffer[offset + 3] = value;
}

/**
 * Reads a reply (to Bind + Execute + Sync, or to a statement's Parse + Sync): its rows and the count
 * of its command. A reply that carries an error is read by PGlite's parser instead, so the error is
 * PGlite's DatabaseError with every field query() would give it.
 */
function readReply(wire: Protocol, reply: Buffer): PreparedResult {
  const result: PreparedResult = { affectedRows: 0, rows: [] };
  for (let offset = 0; offset + 5 <= reply.length;) {
    const type = reply[offset]!;
    const end = offset + 1 + reply.readInt32BE(offset + 1);
    if (type === 0x45) throwDatabaseError(wire, reply);
    if (type === 0x44) {
      // DataRow: the column count, then each column's length (-1 for null) and text.
      const count = reply.readUInt16BE(offset + 5);
      const row: Array<string | null> = new Array<string | null>(count);
      let at = offset + 7;
      for (let column = 0; column < count; column += 1) {
        const size = reply.readInt32BE(at);
        at += 4;
        if (size < 0) row[column] = null;
        else {
          row[column] = reply.toString('utf8', at, at + size);
          at += size;
        }
      }
      result.rows.push(row);
    } else if (type === 0x43) {
      // CommandComplete: its tag as a C string, the count last ("INSERT 0 3").
      const tag = reply.toString('latin1', offset + 5, end - 1);
      const count = Number(tag.slice(tag.lastIndexOf(' ') + 1));
      if (Number.isSafeInteger(count)) result.affectedRows += count;
    }
    offset = end;
  }
  return result;
}

/** Throws the error a reply reports, as PGlite's parser reads it: the DatabaseError query() would throw, with every field. */
function throwDatabaseError(wire: Protocol, reply: Uint8Array): never {
  let failure: Error | undefined;
  new wire.Parser().parse(reply, (message) => {
    if (message instanceof wire.messages.DatabaseError) failure ??= message;
  });
  throw failure ?? new Error('PGlite reported an error it could not describe.');
}
