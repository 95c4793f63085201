// Named prepared statements on PGlite. PGlite's query() sends every statement unnamed, as six calls
// into the WASM backend (Parse, Describe, Bind, Describe, Execute, Sync), so the same statement is
// parsed and planned again on every call; the trace's append is one fixed statement run on every
// governed action, and that parsing and planning is most of what it costs (in-process, so all of it
// is the caller's CPU). PGlite has no API for named statements, hence the wire protocol here: the
// statement is parsed once per PGlite instance under a name, then each call is one Bind + Execute +
// Sync. It takes the same two locks query() takes, so it never runs inside another caller's
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
        read(wire, await exchange(client, concat([wire.serialize.parse({ name, text }), wire.serialize.sync()])));
        known.set(text, name);
      }
      const values = params.map((value) => (value === null ? null : String(value)));
      const reply = await exchange(
        client,
        concat([wire.serialize.bind({ statement: name, values }), wire.serialize.execute(), wire.serialize.sync()]),
      );
      if (client.fs?.syncToFs !== builtinSyncToFs) await client.syncToFs();
      return read(wire, reply);
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
async function exchange(client: PGlite, message: Uint8Array): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  // Each chunk is a view of the backend's memory, which its next write reuses: copied at once.
  await client.execProtocolRawStream(message, { syncToFs: false, onRawData: (bytes) => chunks.push(bytes.slice()) });
  return chunks.length === 1 ? chunks[0]! : concat(chunks);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const buffer = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    buffer.set(part, offset);
    offset += part.length;
  }
  return buffer;
}

/** Reads the backend's reply: the rows, the count of the command, or the error it reported. */
function read(wire: Protocol, reply: Uint8Array): PreparedResult {
  const result: PreparedResult = { affectedRows: 0, rows: [] };
  let failure: Error | undefined;
  new wire.Parser().parse(reply, (message) => {
    if (message instanceof wire.messages.DataRowMessage) result.rows.push(message.fields);
    else if (message instanceof wire.messages.CommandCompleteMessage) {
      const count = Number(message.text.split(' ').at(-1));
      if (Number.isSafeInteger(count)) result.affectedRows += count;
    } else if (message instanceof wire.messages.DatabaseError) failure ??= message;
  });
  if (failure) throw failure;
  return result;
}
