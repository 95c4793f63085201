// Regular expressions for CEL `matches`, with the RE2 syntax CEL specifies and in time linear in
// the input (re2js, a pure-JavaScript port of RE2: no backtracking, so `^(a+)+$` on a long
// input cannot stall the process the way JavaScript's RegExp does). Compiled patterns are
// cached; patterns can come from arguments, so the cache is bounded.
import { RE2JS } from 're2js';

const cacheLimit = 512;
const compiled = new Map<string, RE2JS>();

/** Thrown for a pattern RE2 cannot compile. */
export class RegexSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegexSyntaxError';
  }
}

/** Compiles (or takes from the cache) an RE2 pattern; throws RegexSyntaxError naming what RE2 rejects. */
export function compileRegex(pattern: string): RE2JS {
  const cached = compiled.get(pattern);
  if (cached) return cached;
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern);
  } catch (error) {
    throw new RegexSyntaxError(regexProblem(pattern, error));
  }
  if (compiled.size >= cacheLimit) compiled.delete(compiled.keys().next().value!);
  compiled.set(pattern, regex);
  return regex;
}

/** Whether `pattern` matches anywhere in `text` (CEL `matches` is a search, not anchored). */
export function regexMatches(text: string, pattern: string): boolean {
  return compileRegex(pattern).test(text);
}

/** Why RE2 rejects a pattern, in one sentence; undefined when it compiles. */
export function regexSyntaxProblem(pattern: string): string | undefined {
  try {
    compileRegex(pattern);
    return undefined;
  } catch (error) {
    return error instanceof RegexSyntaxError ? error.message : String(error);
  }
}

function regexProblem(pattern: string, error: unknown): string {
  const detail = error instanceof Error ? error.message.replace(/^error parsing regexp: /, '') : String(error);
  const hint = /\(\?<?[=!]|\\[1-9]/.test(pattern) ? ' (RE2 has no lookaround or backreferences)' : '';
  return `The pattern ${JSON.stringify(pattern.length > 60 ? `${pattern.slice(0, 57)}...` : pattern)} is not valid RE2: ${detail}${hint}.`;
}
