// Who an action is taken for: the one principal type every plane shares (policies match on it as
// CEL `principal`, runs carry it, API tokens and MCP sessions resolve to it).

/** The person or system on whose behalf a run acts. */
export interface Principal {
  /** Principal id, e.g. `alice@example.com`. */
  id: string;
  /** Roles the principal holds (server roles and policy roles alike). */
  roles: string[];
}
