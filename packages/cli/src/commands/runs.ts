import type { Command } from 'commander';

/** Registers the `factory runs` commands and returns the `runs` command so other planes can add subcommands. */
export function registerRunsCommands(program: Command): Command {
  return program.command('runs').description('List, show, verify and export recorded runs.');
}
