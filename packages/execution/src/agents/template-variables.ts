// Variables in the launch settings of an agent's MCP servers (command, args, env, cwd, url and
// headers), so a definition can point at files beside it and at secrets without holding them:
//   ${agentDir}   the folder of the agent file
//   ${dataDir}    the workspace data folder (AIFACTORY_HOME, default ./.factory)
//   ${env:NAME}   an environment variable; a missing one is an error, never an empty string
// `$${` writes a literal `${`. Nothing else is interpreted: no defaults, no nesting, no shell.

/** What the variables stand for. */
export interface TemplateContext {
  /** Folder of the agent file. */
  agentDir: string;
  /** Workspace data folder. */
  dataDir: string;
  /** Environment for `${env:NAME}`. */
  env: Record<string, string | undefined>;
}

/** The text with its variables replaced, or why it cannot be. */
export type ExpandResult = { ok: true; value: string } | { ok: false; message: string };

const variablePattern = /\$?\$\{([^}]*)\}/g;

/** Replaces the variables in `text`. */
export function expandVariables(text: string, context: TemplateContext): ExpandResult {
  let problem: string | undefined;
  const value = text.replace(variablePattern, (whole, inner: string) => {
    if (whole.startsWith('$$')) return whole.slice(1);
    const name = inner.trim();
    if (name === 'agentDir') return context.agentDir;
    if (name === 'dataDir') return context.dataDir;
    if (name.startsWith('env:')) {
      const variable = name.slice(4);
      const found = Object.hasOwn(context.env, variable) ? context.env[variable] : undefined;
      if (found === undefined) {
        problem ??= `environment variable '${variable}' is not set`;
        return whole;
      }
      return found;
    }
    problem ??= `unknown variable '${whole}'; use \${agentDir}, \${dataDir} or \${env:NAME} (write $\${ for a literal \${)`;
    return whole;
  });
  return problem === undefined ? { ok: true, value } : { ok: false, message: problem };
}
