#!/usr/bin/env node
import { enableCompileCache } from 'node:module';
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

if (import.meta.main) {
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
