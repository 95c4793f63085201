import { AiFactoryError, UserError } from '@aifactory/core';
import type { Command } from 'commander';
import pc from 'picocolors';

/**
 * Exit codes shared by every command, so scripts can tell outcomes apart:
 * 0 ok; 1 a check ran and failed (tests, verify, lint errors, a gate); 2 the caller's mistake;
 * 3 our fault or the environment's (store unreachable, a crash).
 */
export const ExitCode = { Ok: 0, CheckFailed: 1, UserError: 2, SystemError: 3 } as const;

/** Options every command accepts. */
export interface CommonOptions {
  /** Print one JSON document on stdout instead of text. */
  json?: boolean;
}

/** Adds the `--json` flag to a command. */
export function withJson(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON on stdout');
}

/**
 * Wraps a command action: errors become one clear line (or a JSON error object) and an exit
 * code, never a stack trace. Set AIFACTORY_DEBUG=1 to see stacks of unexpected errors.
 */
export function action<Args extends unknown[]>(
  run: (...args: Args) => Promise<number | void> | number | void,
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    const options = args.find((value) => value !== null && typeof value === 'object' && !Array.isArray(value)) as CommonOptions | undefined;
    try {
      const code = await run(...args);
      process.exitCode = code ?? ExitCode.Ok;
    } catch (error) {
      process.exitCode = reportError(error, options?.json === true);
    }
  };
}

/** Prints an error the way every command does and returns the exit code it deserves. */
export function reportError(error: unknown, json: boolean): number {
  const known = error instanceof AiFactoryError;
  const code = error instanceof UserError ? ExitCode.UserError : ExitCode.SystemError;
  if (json) {
    const body = known ? error.toJSON() : { name: 'Error', code: 'INTERNAL', message: String((error as Error)?.message ?? error) };
    process.stdout.write(`${JSON.stringify({ ok: false, error: body }, null, 2)}\n`);
  } else {
    const message = known ? error.format() : String((error as Error)?.message ?? error);
    process.stderr.write(`${pc.red('error')}: ${message}\n`);
    const cause = (error as Error)?.cause;
    if (cause instanceof Error) process.stderr.write(`  caused by: ${cause.message}\n`);
    if (process.env.AIFACTORY_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  }
  return code;
}

/** Prints a result as JSON, or through a text renderer. */
export function emit<T>(options: CommonOptions, value: T, renderText: (value: T) => string): void {
  if (options.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else {
    const text = renderText(value);
    if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}
