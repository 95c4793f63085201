#!/usr/bin/env node
import { Command } from 'commander';
import { ExitCode, reportError } from './command-kit.ts';
import { registerApprovalsCommands } from './commands/approvals.ts';
import { registerKnowledgeCommands } from './commands/knowledge.ts';
import { registerPolicyCommands } from './commands/policy.ts';
import { registerRunsCommands } from './commands/runs.ts';
import { registerRunsForensicsCommands } from './commands/runs-forensics.ts';
import { registerPolicyImpactCommand } from './commands/policy-impact.ts';
import { registerToolsCommands } from './commands/tools.ts';
import { registerServeCommands } from './commands/serve.ts';
import { registerNotificationsCommands } from './commands/notifications.ts';
import { registerResumeCommand, registerRunCommand, resumeHeldRun } from './commands/run.ts';
import { openWorkspaceRecorder } from './workspace.ts';
import type { EventType } from '@aifactory/verification';

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
  registerRunCommand(program);
  const policy = registerPolicyCommands(program);
  registerPolicyImpactCommand(policy);
  const runs = registerRunsCommands(program);
  registerResumeCommand(runs);
  registerRunsForensicsCommands(runs);
  registerApprovalsCommands(program, {
    recorder: async (store) => {
      const recorder = await openWorkspaceRecorder(store);
      return (runId, event) => recorder.record(runId, { ...event, type: event.type as EventType });
    },
    // A decided approval resumes its run at once, in this process.
    onDecided: ({ approval, store, json }) => resumeHeldRun(store, approval.runId, approval.id, { json }),
  });
  registerNotificationsCommands(program);
  registerKnowledgeCommands(program);
  registerToolsCommands(program);
  registerServeCommands(program);
  return program;
}

if (import.meta.main) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      process.exitCode = reportError(error, process.argv.includes('--json'));
    });
}
