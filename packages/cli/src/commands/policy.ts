import type { Command } from 'commander';

/** Registers the `factory policy` commands. */
export function registerPolicyCommands(program: Command): void {
  void program;
}
