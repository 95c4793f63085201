import type { Command } from 'commander';

/** Registers the `factory runs` commands. */
export function registerRunsCommands(program: Command): void {
  void program;
}
