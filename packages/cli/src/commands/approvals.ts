import type { Command } from 'commander';

/** Registers the `factory approvals` commands. */
export function registerApprovalsCommands(program: Command): Command {
  return program.command('approvals').description('(not yet available)');
}
