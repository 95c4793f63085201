#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import path from 'node:path';
import { Command } from 'commander';
import { registerPackageResolution } from './package-resolution.ts';
// Nothing else is imported statically: the modules below load after the resolution hook is in place.

/** The top-level command groups; each one's module (and the planes it needs) loads only when asked for. */
export const commandGroups = [
  'run',
  'policy',
  'runs',
  'approvals',
  'notifications',
  'knowledge',
  'tools',
  'serve',
  'tokens',
  'mcp',
  'usage',
  'witness',
  'eval',
  'prompts',
  'models',
  'feedback',
  'worker',
] as const;

/**
 * Builds the `factory` program; exported so tests can run commands in-process. With `only`, just
 * that group is registered: the planes take about a second to load, and `factory policy lint`
 * should not wait for the runtime it never uses.
 */
export async function buildProgram(only?: string): Promise<Command> {
  const { ExitCode } = await import('./command-kit.ts');
  const { setServerOption } = await import('./connection.ts');
  const program = new Command('factory')
    .description('aifactory: governed agents, bounded-autonomy policies and verifiable runs.')
    .version('0.1.0')
    .option(
      '--server <url>',
      "send commands to this aifactory server (or set AIFACTORY_URL), with AIFACTORY_TOKEN; they act as the token's principal",
    )
    .addHelpText(
      'after',
      "\nWhere commands go: with --server/AIFACTORY_URL, to that server as AIFACTORY_TOKEN's principal (--as is refused);\n" +
        "else, while `factory serve` owns this home's embedded store, through it (its local credential; --as still counts);\n" +
        'else straight to the store (PGlite under AIFACTORY_HOME, or Postgres with DATABASE_URL) as a local administrator.\n' +
        'Commands the server cannot run refuse before writing anything and name the server. See docs/serving.md.',
    )
    .hook('preAction', (_root, command) => setServerOption(command.optsWithGlobals<{ server?: string }>().server))
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(text) })
    .exitOverride((error) => {
      // commander's own errors (unknown option, missing argument) are the caller's mistake.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help')
        process.exit(ExitCode.Ok);
      process.exit(ExitCode.UserError);
    });
  const wanted = (...groups: string[]) => only === undefined || groups.includes(only);
  if (wanted('run')) (await import('./commands/run.ts')).registerRunCommand(program);
  if (wanted('policy')) {
    const policy = (await import('./commands/policy.ts')).registerPolicyCommands(program);
    (await import('./commands/policy-impact.ts')).registerPolicyImpactCommand(policy);
  }
  if (wanted('runs')) {
    const runs = (await import('./commands/runs.ts')).registerRunsCommands(program);
    (await import('./commands/run.ts')).registerResumeCommand(runs);
    (await import('./commands/runs-forensics.ts')).registerRunsForensicsCommands(runs);
    (await import('./commands/runs-recovery.ts')).registerRunsRecoveryCommands(runs);
  }
  if (wanted('approvals')) (await import('./commands/approvals.ts')).registerApprovalsCommands(program);
  if (wanted('notifications')) (await import('./commands/notifications.ts')).registerNotificationsCommands(program);
  if (wanted('knowledge')) (await import('./commands/knowledge.ts')).registerKnowledgeCommands(program);
  if (wanted('tools')) (await import('./commands/tools.ts')).registerToolsCommands(program);
  if (wanted('usage')) (await import('./commands/usage.ts')).registerUsageCommand(program);
  if (wanted('witness')) (await import('./commands/witness.ts')).registerWitnessCommands(program);
  if (wanted('eval')) (await import('./commands/eval.ts')).registerEvalCommand(program);
  if (wanted('prompts')) (await import('./commands/prompts.ts')).registerPromptsCommands(program);
  if (wanted('models')) (await import('./commands/models.ts')).registerModelsCommands(program);
  if (wanted('feedback')) (await import('./commands/feedback.ts')).registerFeedbackCommands(program);
  if (wanted('worker')) (await import('./commands/worker.ts')).registerWorkerCommand(program);
  if (wanted('serve', 'tokens', 'mcp')) (await import('./commands/serve.ts')).registerServeCommands(program);
  if (wanted('mcp')) (await import('./commands/mcp-proxy.ts')).registerMcpProxyCommand(program);
  return program;
}

/** The command group named on a command line: its first word that is neither an option nor `--server`'s value. */
export function commandGroupOf(args: readonly string[]): string | undefined {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--server') index++;
    else if (!arg.startsWith('-')) return commandGroups.find((name) => name === arg);
  }
  return undefined;
}

/** Command groups that serve until stopped: V8's optimising compiler pays for itself there. */
const longLived: ReadonlySet<string> = new Set(['serve', 'worker', 'mcp']);
/**
 * Commands that never open the store: a relaunch would only add a Node start to them (`policy lint`
 * 0.50 s instead of 0.38). `policy impact` replays recorded runs, so it is not among them.
 */
const storeless: ReadonlyMap<string, ReadonlySet<string>> = new Map([['policy', new Set(['lint', 'test', 'explain', 'diff', 'schema'])]]);

/**
 * The V8 flags a command restarts itself with before it loads anything, or undefined to run as it
 * is. The embedded store is PGlite, 9 MB of WebAssembly, and V8 compiles the parts that run hot
 * (Postgres starting up, its parser and executor) again with its optimising compiler on background
 * threads: up to two CPU-seconds and 450 MB of memory that a command which opens the store, answers
 * and exits never gets back. So a command runs with Liftoff, V8's baseline compiler, alone
 * (`--liftoff-only`): `factory run file-clerk` took 2.9 CPU-s and 214 MB at its peak instead of 5.2
 * and 655 MB (`pnpm bench cli`). Long work loses by it (20,000 inserts and 2,000 scans in one
 * process: 35 CPU-s against 20), so servers and workers keep the optimising compiler, and so does a command given
 * AIFACTORY_PGLITE_TIER_UP=1 (a long `runs verify --all` or `eval`), node flags of its own for
 * WebAssembly, a Postgres store (DATABASE_URL) or a server to talk to (--server, AIFACTORY_URL, or
 * the `factory serve` that owns this home's store), since then no PGlite opens here; nor does one in
 * a command that never opens the store.
 */
export function relaunchFlags(
  args: readonly string[],
  execArgv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): string[] | undefined {
  const group = commandGroupOf(args);
  if (group === undefined || longLived.has(group)) return undefined;
  const subcommand = args[args.indexOf(group) + 1];
  if (subcommand !== undefined && storeless.get(group)?.has(subcommand)) return undefined;
  if (args.some((arg) => arg === '-h' || arg === '--help' || arg === '-V' || arg === '--version' || arg === '--server')) return undefined;
  if (env.DATABASE_URL || env.AIFACTORY_URL || env.AIFACTORY_PGLITE_TIER_UP === '1') return undefined;
  // Forked with an IPC channel: a new program image keeps stdin, stdout and stderr, not the channel.
  if (env.NODE_CHANNEL_FD !== undefined) return undefined;
  if (execArgv.some((flag) => /^--(no-)?(liftoff|wasm)/.test(flag))) return undefined;
  // A `factory serve` owns this home's store (its local credential, @aifactory/workspace's
  // localCredentialFile, in the home @aifactory/store's dataHome names): the command goes through it.
  if (existsSync(path.join(path.resolve(cwd, env.AIFACTORY_HOME?.trim() || '.factory'), 'server.json'))) return undefined;
  return ['--liftoff-only'];
}

if (import.meta.main) {
  const flags = relaunchFlags(process.argv.slice(2), process.execArgv, process.env);
  // The same process (its pid, stdin, stdout and stderr) as another program image: a caller that
  // waits for, signals or kills this pid reaches the command. Nothing has been read or written yet.
  // process.execve is POSIX-only and new in Node 22.15; without it the command runs as it is.
  if (flags && typeof process.execve === 'function') {
    try {
      process.execve(
        process.execPath,
        [process.execPath, ...flags, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)],
        process.env,
      );
    } catch {
      // Could not replace the process image: run in this one, with V8's defaults.
    }
  }
  // Node's on-disk compile cache: each command loads hundreds of modules, and a CLI starts often.
  enableCompileCache();
  registerPackageResolution();
  const group = commandGroupOf(process.argv.slice(2));
  buildProgram(group)
    .then((program) => program.parseAsync(process.argv))
    .catch(async (error: unknown) => {
      const { reportError } = await import('./command-kit.ts');
      process.exitCode = reportError(error, process.argv.includes('--json'));
    });
}
