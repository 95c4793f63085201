// Real MCP servers from the npm registry, installed as devDependencies of @aifactory/execution
// and started with the current Node (no npx, no network).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolvePackageBin, type McpServerConfig } from '../../src/tools/index.ts';

const here = import.meta.dirname;

/** The bin script of one of the reference servers. */
export function serverScript(name: 'server-filesystem' | 'server-memory' | 'server-everything'): string {
  return resolvePackageBin(`@modelcontextprotocol/${name}`, { from: [here] }).script;
}

/** The filesystem server over `folder`. */
export function filesystemServer(folder: string, extra: Partial<McpServerConfig> = {}): McpServerConfig {
  return { name: 'fs', command: process.execPath, args: [serverScript('server-filesystem'), folder], ...extra };
}

/** The knowledge-graph memory server, keeping its graph in `memoryFile`. */
export function memoryServer(memoryFile: string, extra: Partial<McpServerConfig> = {}): McpServerConfig {
  return {
    name: 'memory',
    command: process.execPath,
    args: [serverScript('server-memory')],
    env: { MEMORY_FILE_PATH: memoryFile },
    ...extra,
  };
}

/** The everything server over stdio. */
export function everythingServer(extra: Partial<McpServerConfig> = {}): McpServerConfig {
  return { name: 'everything', command: process.execPath, args: [serverScript('server-everything'), 'stdio'], ...extra };
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The everything server in Streamable HTTP mode, as its own process on `port`. */
export async function startEverythingHttp(port: number): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [serverScript('server-everything'), 'streamableHttp'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`everything server did not listen on ${port}: ${stderr}`)), 15_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('listening on port')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`everything server exited with ${code}: ${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** True while a process with this id exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
