// Counts tool calls at the tool itself, for the chaos test: a module preloaded into an MCP stdio
// server's own Node process (an example agent's server, e.g. the reference filesystem server),
// which appends every `tools/call` request the server reads to the calls file, as one JSON line,
// before the server's transport gets it.
//
// usage: node --import '<this file's URL>?<calls file>' <server script> [args...]
//
// The calls file rides in the module's URL, so it is on the server's command line (the test finds
// tool servers that outlive their worker by it). Inside the server rather than a process in front
// of it, and JavaScript rather than TypeScript: one starts for every run a worker drives, and a
// Node process of its own in front of each server (type-stripped) cost ~0.35 CPU-s, as much as the
// filesystem server itself. When its client goes away (a worker SIGKILLed), stdin ends and the
// server exits once the calls it read are carried out (Node exits when nothing is left to do, and
// an fs write under way is something), so a call the server received is carried out by the time
// its process is gone: the test decides in-doubt calls once no server outlives its worker.
import { appendFileSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import process from 'node:process';
import { URL } from 'node:url';

// The server's modules come from Node's compile cache, as the `factory` command's own do.
enableCompileCache();

const callsFile = decodeURIComponent(new URL(import.meta.url).search.slice(1));
if (!callsFile) throw new Error("usage: node --import '<tool-call-tap.mjs URL>?<calls file>' <server> [args...]");

// The process that drives the calls (the worker), as it was at start: it may be dead when a call it sent is read.
const client = process.ppid;
let unread = '';

/** Records each whole `tools/call` line of a chunk the server is about to read. @param {Buffer | string} chunk */
function record(chunk) {
  unread += chunk.toString();
  let end;
  while ((end = unread.indexOf('\n')) >= 0) {
    const line = unread.slice(0, end);
    unread = unread.slice(end + 1);
    try {
      const message = JSON.parse(line);
      if (message?.method === 'tools/call')
        appendFileSync(
          callsFile,
          `${JSON.stringify({ tool: message.params?.name, args: message.params?.arguments ?? {}, pid: client, at: Date.now() })}\n`,
        );
    } catch {
      // not JSON: the server answers it as it would
    }
  }
}

// Every chunk passes here before any listener sees it (the server's transport listens for 'data').
// Wrapping emit rather than adding a listener: a listener added now would start the stream flowing
// before the server listens, and the server would miss what came first.
const stdin = process.stdin;
const emit = stdin.emit.bind(stdin);
stdin.emit = (event, ...args) => {
  if (event === 'data') record(args[0]);
  return emit(event, ...args);
};
// The client may be gone; the server still finishes the calls it read.
process.stdout.on('error', () => undefined);
