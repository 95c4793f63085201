#!/usr/bin/env node
import { Command } from 'commander';
import { ExitCode, reportError } from './command-kit.ts';
import { registerApprovalsCommands } from './commands/approvals.ts';
import { registerKnowledgeCommands } from './commands/knowledge.ts';
import { registerPolicyCommands } from './commands/policy.ts';
import { registerRunsCommands } from './commands/runs.ts';
import { registerToolsCommands } from './commands/tools.ts';

/** Builds the `factory` program; exported so tests can run commands in-process. */
export function buildProgram(): Command {
  const program = new Command('factory')
    .description('aifactory: governed agents, bounded-autonomy policies and verifiable runs.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(text) })
    .exitOverride((error) => {
      // commander's own errors (unknown option, missing argument) are the caller's mistake.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') process.exit(ExitCode.Ok);
      process.exit(ExitCode.UserError);
    });
  registerPolicyCommands(program);
  registerRunsCommands(program);
  registerKnowledgeCommands(program);
  registerApprovalsCommands(program);
  registerToolsCommands(program);
  return program;
}

if (import.meta.main) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      process.exitCode = reportError(error, process.argv.includes('--json'));
    });
}
