// The static shape of what a condition can read: the documented CEL context, and tool arguments
// as their MCP input schemas (JSON Schema) declare them. Used by the condition type check only;
// decide() never looks at shapes.

/** Value types as a condition sees them. */
export type ValueType = 'string' | 'number' | 'integer' | 'boolean' | 'list' | 'map' | 'timestamp' | 'null' | 'any';

/** A static description of a value. */
export interface Shape {
  /** Possible types (a union). */
  type: ValueType[];
  /** Known fields of a map. */
  properties?: Record<string, Shape>;
  /** Fields beyond `properties`: a shape, or false when the map is closed. */
  additional?: Shape | false;
  /** Element shape of a list. */
  items?: Shape;
  /** The only values allowed, when known. */
  enum?: unknown[];
  /** The JSON Schema `format` of a string (uri, hostname...), when the tool declares one. */
  format?: string;
  /** Whether the schema keeps a number above zero (`minimum` > 0 or `exclusiveMinimum` >= 0). */
  positive?: boolean;
}

const any: Shape = { type: ['any'] };
const string: Shape = { type: ['string'] };
const integer: Shape = { type: ['integer'] };
const stringList: Shape = { type: ['list'], items: string };

function closedMap(properties: Record<string, Shape>): Shape {
  return { type: ['map'], properties, additional: false };
}

/** Shapes of the CEL context variables, with `action.args` as given (anything, by default). */
export function contextShape(args: Shape = { type: ['map'], additional: any }): Record<string, Shape> {
  return {
    action: closedMap({ kind: { type: ['string'], enum: ['tool', 'model', 'retrieval', 'handoff', 'answer'] }, name: string, args }),
    agent: closedMap({ id: string, team: string, tags: stringList }),
    principal: closedMap({ id: string, roles: stringList }),
    run: closedMap({
      id: string,
      steps: integer,
      tool_calls: integer,
      tokens: integer,
      cost_usd: { type: ['number'] },
      elapsed_ms: integer,
    }),
    data: closedMap({
      classifications: stringList,
      collections: { type: ['list'], items: closedMap({ name: string, classifications: stringList }) },
    }),
    model: closedMap({
      registered: { type: ['boolean'] },
      id: string,
      version: string,
      owner: string,
      classifications: stringList,
      residency: stringList,
    }),
    eval: closedMap({
      found: { type: ['boolean'] },
      passed: { type: ['boolean'] },
      scores: { type: ['map'], additional: { type: ['number'] } },
      suite: string,
      record: string,
    }),
    now: { type: ['timestamp'] },
  };
}

/** The shape of a field of a map shape; undefined when the field cannot exist. */
export function shapeChild(shape: Shape, name: string): Shape | undefined {
  if (shape.type.includes('any')) return any;
  if (!shape.type.includes('map')) return undefined;
  if (shape.properties && Object.hasOwn(shape.properties, name)) return shape.properties[name];
  if (shape.additional === false) return undefined;
  return shape.additional ?? any;
}

/** The element shape of a list (or the key shape of a map) for macros such as exists(). */
export function shapeItems(shape: Shape): Shape | undefined {
  if (shape.type.includes('list')) return shape.items ?? any;
  if (shape.type.includes('map')) return string;
  return undefined;
}

/** Whether a shape accepts values of a type (an integer is a number). */
export function shapeAllows(shape: Shape, type: ValueType): boolean {
  return shape.type.includes(type) || shape.type.includes('any') || (type === 'integer' && shape.type.includes('number'));
}

const typeWords: Record<ValueType, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  list: 'a list',
  map: 'an object',
  timestamp: 'a time',
  null: 'null',
  any: 'anything',
};

/** `a number`, `a string or null`, `a list of strings`. */
export function describeShape(shape: Shape): string {
  return shape.type
    .map((type) =>
      type === 'list' && shape.items && !shape.items.type.includes('any')
        ? `a list of ${describeShape(shape.items).replace(/^an? /, '')}s`
        : typeWords[type],
    )
    .join(' or ');
}

/** A JSON Schema as MCP tools declare their input. */
export type JsonSchema = Record<string, unknown>;

/**
 * Converts a tool's JSON Schema to a shape. Object properties are treated as closed unless
 * `additionalProperties` says otherwise explicitly: reading an argument the tool does not
 * declare is the mistake lint exists to catch.
 */
export function shapeFromJsonSchema(schema: unknown, root: unknown = schema, depth = 0): Shape {
  if (depth > 32 || schema === true || schema === undefined || schema === null || typeof schema !== 'object') return any;
  const node = schema as JsonSchema;
  if (typeof node.$ref === 'string') {
    const target = resolveLocalReference(node.$ref, root);
    return target === undefined ? any : shapeFromJsonSchema(target, root, depth + 1);
  }
  const branches = (Array.isArray(node.anyOf) ? node.anyOf : Array.isArray(node.oneOf) ? node.oneOf : undefined) as unknown[] | undefined;
  if (branches) return unionShapes(branches.map((branch) => shapeFromJsonSchema(branch, root, depth + 1)));
  if (Array.isArray(node.allOf)) {
    const parts = (node.allOf as unknown[]).map((part) => shapeFromJsonSchema(part, root, depth + 1));
    return parts.find((part) => part.properties) ?? parts[0] ?? any;
  }
  let types = schemaTypes(node);
  if (Array.isArray(node.enum)) {
    if (types.length === 0) types = [...new Set(node.enum.map(valueType))];
    return { type: types, enum: [...(node.enum as unknown[])] };
  }
  if ('const' in node) return { type: types.length > 0 ? types : [valueType(node.const)], enum: [node.const] };
  if (types.length === 0) {
    if (node.properties && typeof node.properties === 'object') types = ['map'];
    else if (node.items) types = ['list'];
    else return any;
  }
  const shape: Shape = { type: types };
  if (typeof node.format === 'string') shape.format = node.format;
  if ((typeof node.minimum === 'number' && node.minimum > 0) || (typeof node.exclusiveMinimum === 'number' && node.exclusiveMinimum >= 0))
    shape.positive = true;
  if (types.includes('map')) {
    const properties: Record<string, Shape> = {};
    if (node.properties && typeof node.properties === 'object') {
      for (const [name, child] of Object.entries(node.properties as Record<string, unknown>))
        properties[name] = shapeFromJsonSchema(child, root, depth + 1);
    }
    shape.properties = properties;
    const additional = node.additionalProperties;
    if (additional === true || node.patternProperties !== undefined) shape.additional = any;
    else if (additional && typeof additional === 'object') shape.additional = shapeFromJsonSchema(additional, root, depth + 1);
    else if (additional === undefined && !node.properties) shape.additional = any;
    else shape.additional = false;
  }
  if (types.includes('list')) shape.items = Array.isArray(node.items) ? any : shapeFromJsonSchema(node.items, root, depth + 1);
  return shape;
}

function schemaTypes(node: JsonSchema): ValueType[] {
  const raw = Array.isArray(node.type) ? node.type : typeof node.type === 'string' ? [node.type] : [];
  const types: ValueType[] = [];
  for (const type of raw) {
    if (type === 'object') types.push('map');
    else if (type === 'array') types.push('list');
    else if (type === 'string' || type === 'number' || type === 'integer' || type === 'boolean' || type === 'null') types.push(type);
  }
  return types;
}

function valueType(value: unknown): ValueType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'string' || typeof value === 'boolean') return typeof value as ValueType;
  return typeof value === 'object' ? 'map' : 'any';
}

function unionShapes(shapes: Shape[]): Shape {
  if (shapes.some((shape) => shape.type.includes('any'))) return any;
  const union: Shape = { type: [...new Set(shapes.flatMap((shape) => shape.type))] };
  const maps = shapes.filter((shape) => shape.type.includes('map'));
  if (maps.length > 0) {
    union.properties = Object.assign({}, ...maps.map((shape) => shape.properties ?? {})) as Record<string, Shape>;
    union.additional = maps.some((shape) => shape.additional !== false) ? any : false;
  }
  const lists = shapes.filter((shape) => shape.type.includes('list'));
  if (lists.length === 1) union.items = lists[0]!.items ?? any;
  else if (lists.length > 1) union.items = any;
  const enums = shapes.map((shape) => shape.enum);
  if (enums.every(Boolean)) union.enum = enums.flatMap((values) => values!);
  return union;
}

function resolveLocalReference(reference: string, root: unknown): unknown {
  if (!reference.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of reference.slice(1).split('/').filter(Boolean)) {
    const part = decodeURIComponent(raw.replaceAll('~1', '/').replaceAll('~0', '~'));
    if (!node || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
