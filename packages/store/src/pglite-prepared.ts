// Named prepared statements on PGlite. PGlite's query() sends every statement unnamed, as six calls
// into the WASM backend (Parse, Describe, Bind, Describe, Execute, Sync), so the same statement is
// parsed and planned again on every call; the trace's append is one fixed statement run on every
// governed action, and that parsing and planning is most of what it costs (in-process, so all of it
// is the caller's CPU). PGlite has no API for named statements, hence the wire protocol here: the
// statement is parsed once per PGlite instance under a name, then each call is one Bind + Execute +
// Sync. It takes the same two locks query() takes, so it never runs inside another caller's
// transaction, and syncs to the file system after each call as query() does.
import type * as PgliteModule from '@electric-sql/pglite';
import type { PGlite } from '@electric-sql/pglite';

/** PGlite's wire-protocol serializer, imported on first use: a process on Postgres never loads PGlite. */
let pglite: Promise<typeof PgliteModule> | undefined;

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
      const { protocol } = await (pglite ??= import('@electric-sql/pglite'));
      let name = known.get(text);
      if (name === undefined) {
        name = `aifactory_${known.size + 1}`;
        // Parsed on its own first, so a statement that does not parse is never remembered.
        read(
          protocol,
          await client.execProtocolRaw(concat([protocol.serialize.parse({ name, text }), protocol.serialize.sync()]), { syncToFs: false }),
        );
        known.set(text, name);
      }
      const values = params.map((value) => (value === null ? null : String(value)));
      const reply = await client.execProtocolRaw(
        concat([protocol.serialize.bind({ statement: name, values }), protocol.serialize.execute(), protocol.serialize.sync()]),
      );
      return read(protocol, reply);
    }),
  );
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
function read(protocol: typeof PgliteModule.protocol, reply: Uint8Array): PreparedResult {
  const result: PreparedResult = { affectedRows: 0, rows: [] };
  let failure: Error | undefined;
  new protocol.Parser().parse(reply, (message) => {
    if (message instanceof protocol.messages.DataRowMessage) result.rows.push(message.fields);
    else if (message instanceof protocol.messages.CommandCompleteMessage) {
      const count = Number(message.text.split(' ').at(-1));
      if (Number.isSafeInteger(count)) result.affectedRows += count;
    } else if (message instanceof protocol.messages.DatabaseError) failure ??= message;
  });
  if (failure) throw failure;
  return result;
}
