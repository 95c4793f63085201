import type { Command } from 'commander';

/** Registers the `factory knowledge` commands. */
export function registerKnowledgeCommands(program: Command): void {
  void program;
}
