// Counts tool calls at the tool itself, for the chaos test: an MCP stdio server in front of the
// real one (an example agent's own server, e.g. the reference filesystem server). It appends every
// `tools/call` request it receives to its own file, as one JSON line, before the real server gets
// it; everything else passes through untouched, both ways.
//
// usage: node tool-call-tap.ts <calls file> <command> [args...]
//
// Own code rather than the SDK's client and server: a tap that starts a second full MCP stack per
// server would double what each worker start costs, and the stdio transport is one JSON-RPC
// message per line. When its client goes away (a worker SIGKILLed), it ends the real
// server once the server answered every call it received, and exits with it: a call the tap
// received is carried out by the time the tap is gone, so the test decides in-doubt calls once no
// tap outlives its worker.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [callsFile, command, ...args] = process.argv.slice(2);
if (!callsFile || !command) throw new Error('usage: tool-call-tap.ts <calls file> <command> [args...]');

// The process that drives the calls (the worker), as it was at start: it may be dead when a call it sent is read.
const client = process.ppid;
const server = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
server.stdin.on('error', () => undefined); // the server may exit first; its exit ends the tap
process.stdout.on('error', () => undefined); // the client may be gone; the server still finishes its calls

/** Ids of calls the server received and has not answered yet. */
const pending = new Set<unknown>();
let clientGone = false;
/** Once the client is gone and every call it sent is answered, the server is done: end it. */
const endWhenIdle = () => {
  if (clientGone && pending.size === 0) server.kill('SIGTERM');
};

createInterface({ input: server.stdout, crlfDelay: Infinity }).on('line', (line) => {
  try {
    const message = JSON.parse(line) as { id?: unknown; method?: string };
    if (message.method === undefined && message.id !== undefined) pending.delete(message.id);
  } catch {
    // not JSON: passed on as it is
  }
  if (!clientGone) process.stdout.write(`${line}\n`);
  endWhenIdle();
});

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  try {
    const message = JSON.parse(line) as { id?: unknown; method?: string; params?: { name?: string; arguments?: unknown } };
    if (message.method === 'tools/call') {
      appendFileSync(
        callsFile,
        `${JSON.stringify({ tool: message.params?.name, args: message.params?.arguments ?? {}, pid: client, at: Date.now() })}\n`,
      );
      pending.add(message.id);
    }
  } catch {
    // not JSON: the server answers it as it would
  }
  server.stdin.write(`${line}\n`);
});
lines.on('close', () => {
  clientGone = true;
  endWhenIdle();
});
process.on('SIGTERM', () => server.kill('SIGTERM'));
