// Validates a tool call's arguments against the tool's JSON Schema (ajv) before anything else
// happens to the call. Servers declare draft-07 or 2020-12 schemas; each is compiled by the
// matching ajv dialect, once, on first use. A schema that cannot be compiled validates nothing:
// every call to that tool is refused (fail closed), never let through unchecked.
import { Ajv } from 'ajv';
import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** The outcome of validating arguments. */
export type ValidationResult = { ok: true } | { ok: false; errors: string[] };

const ajvOptions: Options = {
  allErrors: true,
  // Servers write schemas for their own validators; unknown keywords and formats are theirs to check.
  strict: false,
  validateFormats: false,
  // Never register schemas by `$id`: two tools may reuse one and must not see each other's.
  addUsedSchema: false,
  logger: false,
};

/** Compiles and caches validators for tool input schemas. */
export class ArgumentValidator {
  readonly #dialects = { draft7: new Ajv(ajvOptions), draft2019: new Ajv2019(ajvOptions), draft2020: new Ajv2020(ajvOptions) };
  readonly #compiled = new Map<string, { validate: ValidateFunction } | { problem: string }>();

  /** Validates `args` against `schema`; `key` identifies the schema in the cache (the tool name). */
  validate(key: string, schema: Record<string, unknown>, args: unknown): ValidationResult {
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      return {
        ok: false,
        errors: [`args: must be an object, got ${args === null ? 'null' : Array.isArray(args) ? 'an array' : typeof args}`],
      };
    }
    let entry = this.#compiled.get(key);
    if (!entry) {
      entry = this.#compile(schema);
      this.#compiled.set(key, entry);
    }
    if ('problem' in entry)
      return { ok: false, errors: [`the tool's input schema cannot be used, so no call is accepted: ${entry.problem}`] };
    if (entry.validate(args)) return { ok: true };
    return { ok: false, errors: (entry.validate.errors ?? []).map(describeError) };
  }

  #compile(schema: Record<string, unknown>): { validate: ValidateFunction } | { problem: string } {
    const { $schema, ...rest } = schema;
    const dialect =
      typeof $schema === 'string' && $schema.includes('2020-12')
        ? 'draft2020'
        : typeof $schema === 'string' && $schema.includes('2019-09')
          ? 'draft2019'
          : 'draft7';
    try {
      return { validate: this.#dialects[dialect].compile(rest) };
    } catch (error) {
      return { problem: error instanceof Error ? error.message : String(error) };
    }
  }
}

/** `args.items[0].name: must be string` from an ajv error. */
function describeError(error: ErrorObject): string {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = segments.reduce(
    (text, segment) =>
      /^\d+$/.test(segment)
        ? `${text}[${segment}]`
        : /^[A-Za-z_$][\w$]*$/.test(segment)
          ? `${text}.${segment}`
          : `${text}[${JSON.stringify(segment)}]`,
    'args',
  );
  const params = error.params as Record<string, unknown>;
  let detail = '';
  if (error.keyword === 'additionalProperties') detail = ` ('${String(params.additionalProperty)}')`;
  else if (error.keyword === 'enum' && Array.isArray(params.allowedValues))
    detail = `: ${params.allowedValues.map((value) => JSON.stringify(value)).join(', ')}`;
  return `${path}: ${error.message ?? 'is invalid'}${detail}`;
}
