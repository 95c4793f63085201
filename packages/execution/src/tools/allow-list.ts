// Allow-lists of tool names per server. Patterns are globs over the bare tool name (`read_*`,
// `list_directory`): `*` matches any run of characters and `?` one character. Hand-written
// rather than picomatch because tool names are not paths: `*` must cross `.` and `/` too.

/** A compiled allow-list. */
export interface AllowList {
  /** True when the tool (its bare name on the server) is allowed. */
  allows(tool: string): boolean;
  /** Patterns that match none of the given tools: most likely typos. */
  unmatched(tools: readonly string[]): string[];
}

/** Compiles an allow-list; `undefined` allows every tool of the server, `[]` none. */
export function compileAllowList(patterns: readonly string[] | undefined): AllowList {
  if (patterns === undefined) return { allows: () => true, unmatched: () => [] };
  const compiled = patterns.map((pattern) => ({ pattern, expression: globToRegExp(pattern) }));
  return {
    allows: (tool) => compiled.some(({ expression }) => expression.test(tool)),
    unmatched: (tools) => compiled.filter(({ expression }) => !tools.some((tool) => expression.test(tool))).map(({ pattern }) => pattern),
  };
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (const character of pattern) {
    if (character === '*') source += '.*';
    else if (character === '?') source += '.';
    else source += character.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}
