import type { Command } from 'commander';

/** Registers the `factory tools` commands. */
export function registerToolsCommands(program: Command): Command {
  return program.command('tools').description('(not yet available)');
}
