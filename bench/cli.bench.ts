// `pnpm bench cli`: what a `factory` command on the embedded store (PGlite) costs its user, the
// README's commands run as the installed bundle, each in a process of its own: the whole process's
// CPU (every thread: V8 compiles WebAssembly on background threads) and its peak memory, from
// getrusage at exit. Side by side, in the same run and alternating, the same command with V8's
// defaults (AIFACTORY_PGLITE_TIER_UP=1, the peer): a command relaunches itself with
// `--liftoff-only` (packages/cli/src/main.ts, relaunchFlags), so V8 never compiles PGlite's
// WebAssembly again with its optimising compiler for a command that exits a second later.
// BENCH_QUICK=1: `runs list` alone, once. Figures go to bench/results/cli.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const factory = path.join(benchDir, '..', 'packages', 'cli', 'dist', 'factory.mjs');
const quick = process.env.BENCH_QUICK === '1';
const rounds = quick ? 1 : 5;

const scratch = mkdtempSync(path.join(tmpdir(), 'aifactory-cli-bench-'));
// Preloaded into every command (NODE_OPTIONS survives the relaunch, and so does the process's
// resource usage, which execve keeps): its CPU and peak memory at exit, written where it is told.
const preload = path.join(scratch, 'usage.cjs');
writeFileSync(
  preload,
  "process.on('exit', () => { const u = process.resourceUsage(); require('node:fs').writeFileSync(process.env.BENCH_USAGE_FILE, JSON.stringify({ cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, maxRssMb: u.maxRSS / 1024 })); });\n",
);

interface Usage {
  cpuMs: number;
  maxRssMb: number;
  wallMs: number;
}

const demo = prepareDemoWorkspace(path.join(scratch, 'demo'));
const baseEnv: NodeJS.ProcessEnv = { ...process.env, AIFACTORY_HOME: demo.dataDir, NO_COLOR: '1' };
delete baseEnv.DATABASE_URL;
delete baseEnv.AIFACTORY_URL;

function command(args: string[], tierUp: boolean): Usage {
  const usageFile = path.join(scratch, 'usage.json');
  rmSync(usageFile, { force: true });
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${preload}`.trim(),
    BENCH_USAGE_FILE: usageFile,
  };
  if (tierUp) env.AIFACTORY_PGLITE_TIER_UP = '1';
  const started = performance.now();
  const result = spawnSync(process.execPath, [factory, ...args], { cwd: demo.root, env, encoding: 'utf8' });
  const wallMs = performance.now() - started;
  if (result.status !== 0) throw new Error(`factory ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return { ...(JSON.parse(readFileSync(usageFile, 'utf8')) as Omit<Usage, 'wallMs'>), wallMs };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const allCommands: Record<string, string[]> = {
  'runs list': ['runs', 'list', '--json'],
  'tokens list': ['tokens', 'list', '--json'],
  'run file-clerk (the README)': ['run', 'file-clerk', '--input', 'Summarise invoice 1042', '--as', 'alice', '--role', 'clerk', '--json'],
};
const commands = quick ? { 'runs list': allCommands['runs list']! } : allCommands;

// The store is created by the first command (not measured), as a user's first command does.
command(['runs', 'list', '--json'], false);

const figures: Record<string, { relaunched: Usage; tierUp: Usage; cpuRatio: number; rssRatio: number }> = {};
for (const [name, args] of Object.entries(commands)) {
  const relaunched: Usage[] = [];
  const tierUp: Usage[] = [];
  for (let round = 0; round < rounds; round++) {
    relaunched.push(command(args, false));
    tierUp.push(command(args, true));
  }
  const pick = (usages: Usage[]): Usage => ({
    cpuMs: median(usages.map((usage) => usage.cpuMs)),
    maxRssMb: median(usages.map((usage) => usage.maxRssMb)),
    wallMs: median(usages.map((usage) => usage.wallMs)),
  });
  const figure = { relaunched: pick(relaunched), tierUp: pick(tierUp), cpuRatio: 0, rssRatio: 0 };
  figure.cpuRatio = figure.relaunched.cpuMs / figure.tierUp.cpuMs;
  figure.rssRatio = figure.relaunched.maxRssMb / figure.tierUp.maxRssMb;
  figures[name] = figure;
  console.log(
    `factory ${name}: ${figure.relaunched.cpuMs.toFixed(0)} ms CPU, ${figure.relaunched.maxRssMb.toFixed(0)} MB peak, ${figure.relaunched.wallMs.toFixed(0)} ms wall; with V8's defaults ${figure.tierUp.cpuMs.toFixed(0)} ms CPU, ${figure.tierUp.maxRssMb.toFixed(0)} MB, ${figure.tierUp.wallMs.toFixed(0)} ms (CPU ${figure.cpuRatio.toFixed(2)}x, memory ${figure.rssRatio.toFixed(2)}x; median of ${rounds})`,
  );
}

const results = { quick, rounds, load: loadavg().map((value) => Number(value.toFixed(2))), commands: figures };
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
writeFileSync(path.join(benchDir, 'results', 'cli.json'), `${JSON.stringify(results, null, 2)}\n`);
rmSync(scratch, { recursive: true, force: true });
