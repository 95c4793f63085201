// Completion of policy YAML from the policy format's JSON Schema (GET /v1/policies/schema): the
// keys an object may have where a key is being typed, and the values an enum, const or boolean
// allows after `key: `, each with the schema's description. Written here rather than taken from
// codemirror-json-schema, whose YAML mode brings its own YAML language and json-schema-library
// (several times this page's size): the policy schema needs properties, items, anyOf/oneOf/allOf
// and local $refs, and block-style YAML's key path is read off the indentation.
import type { Completion, CompletionContext, CompletionResult } from '@codemirror/autocomplete';

/** The parts of a JSON Schema completion reads. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  description?: string;
  $ref?: string;
  definitions?: Record<string, JsonSchema>;
  $defs?: Record<string, JsonSchema>;
}

/** A list item in a key path. */
const item = Symbol('item');
type Segment = string | typeof item;

/** The key path of the object the line at `index` is a key of, read off the indentation of the lines above it. */
export function yamlPathAt(lines: readonly string[], index: number): Segment[] {
  const own = /^(\s*)(- )?/.exec(lines[index] ?? '')!;
  const path: Segment[] = own[2] ? [item] : [];
  let threshold = own[1]!.length;
  for (let at = index - 1; at >= 0 && threshold > 0; at -= 1) {
    const line = lines[at]!;
    if (/^\s*(#.*)?$/.test(line)) continue;
    const match = /^(\s*)(- )?(?:([A-Za-z0-9_.-]+)\s*:)?/.exec(line)!;
    const indent = match[1]!.length;
    if (indent >= threshold) continue;
    if (match[2]) path.unshift(item);
    else if (match[3]) path.unshift(match[3]);
    else continue;
    threshold = indent;
  }
  return path;
}

/** The alternatives a schema stands for, its $refs followed and anyOf/oneOf/allOf spread. */
function alternatives(schema: JsonSchema | undefined, root: JsonSchema, depth = 0): JsonSchema[] {
  if (!schema || depth > 12) return [];
  if (schema.$ref) {
    const name = /^#\/(?:definitions|\$defs)\/(.+)$/.exec(schema.$ref)?.[1];
    return alternatives(name ? (root.definitions?.[name] ?? root.$defs?.[name]) : undefined, root, depth + 1);
  }
  const spread = [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])].flatMap((part) =>
    alternatives(part, root, depth + 1),
  );
  return [schema, ...spread];
}

/** The schemas at a key path. */
function schemasAt(root: JsonSchema, path: readonly Segment[]): JsonSchema[] {
  let current = alternatives(root, root);
  for (const segment of path) {
    current = current.flatMap((schema) =>
      alternatives(
        segment === item
          ? schema.items
          : (schema.properties?.[segment] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined)),
        root,
      ),
    );
  }
  return current;
}

/** A completion source for CodeMirror over YAML written against `schema()` (read at each completion, so it may arrive late). */
export function schemaCompletion(schema: () => JsonSchema | null): (context: CompletionContext) => CompletionResult | null {
  return (context) => {
    const root = schema();
    if (!root) return null;
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const lines = context.state.doc.toString().split('\n');
    const index = line.number - 1;
    const key = /^(\s*)(- )?([A-Za-z_]*)$/.exec(before);
    if (key) {
      if (!context.explicit && key[3] === '' && !key[2]) return null;
      const options = new Map<string, Completion>();
      for (const schema of schemasAt(root, yamlPathAt(lines, index))) {
        for (const [name, property] of Object.entries(schema.properties ?? {})) {
          if (!options.has(name))
            options.set(name, {
              label: name,
              type: 'property',
              apply: `${name}: `,
              ...(describe(property, root) ? { info: describe(property, root)! } : {}),
            });
        }
      }
      return options.size > 0 ? { from: context.pos - key[3]!.length, options: [...options.values()], validFor: /^[A-Za-z_]*$/ } : null;
    }
    const value = /^(\s*)(- )?([A-Za-z0-9_.-]+):\s+([A-Za-z0-9_"'.-]*)$/.exec(before);
    if (value) {
      const values = new Map<string, Completion>();
      for (const schema of schemasAt(root, [...yamlPathAt(lines, index), value[3]!]).flatMap((found) => alternatives(found, root))) {
        for (const allowed of [
          ...(schema.enum ?? []),
          ...('const' in schema ? [schema.const] : []),
          ...(schema.type === 'boolean' ? [true, false] : []),
        ]) {
          if (typeof allowed === 'string' || typeof allowed === 'number' || typeof allowed === 'boolean')
            values.set(String(allowed), {
              label: String(allowed),
              type: 'enum',
              ...(schema.description ? { info: schema.description } : {}),
            });
        }
      }
      return values.size > 0
        ? { from: context.pos - value[4]!.length, options: [...values.values()], validFor: /^[A-Za-z0-9_.-]*$/ }
        : null;
    }
    return null;
  };
}

function describe(schema: JsonSchema, root: JsonSchema): string | undefined {
  return alternatives(schema, root).find((candidate) => candidate.description)?.description;
}
