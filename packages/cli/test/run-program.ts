// Runs a commander program in-process the way a shell would, capturing what it prints and the exit
// code it sets — the shared harness of the CLI tests that drive commands against one test store.
import type { Command } from 'commander';
import { vi } from 'vitest';

/** What one command printed and the exit code it left. */
export interface ProgramOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Parses `args` with `program` and returns its output; process.exitCode is reset afterwards. */
export async function runProgram(program: Command, args: string[]): Promise<ProgramOutput> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'factory', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { stdout, stderr, exitCode };
}
