// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const canonicalize = { name: 'canonicalize', message: 'Use canonicalJson from @aifactory/core.' };

// One owner per table: a package reads and writes a table only through its owner's functions, and
// within the owner only *-rows.ts files import the drizzle schema, so a table's queries live in one
// place. Keep this map in step with packages/store/src/schema/index.ts.
const tableOwners = {
  verification: ['runs', 'events', 'seals', 'storeIdentity', 'runLeases'],
  execution: [
    'approvals',
    'approvalVotes',
    'policyVersions',
    'artifacts',
    'notifications',
    'toolPins',
    'checkpoints',
    'checkpointBlobs',
    'checkpointWrites',
  ],
  knowledge: ['collections', 'documents', 'chunks'],
  server: ['apiTokens'],
};
const schemaMessage =
  "Only an owning package's *-rows.ts files import the store schema: call the owner's functions (see tableOwners in eslint.config.js).";

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.factory/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // A function past 80 lines is usually a module in disguise: split it by concept (a warning, not an error).
    files: ['packages/*/src/**/*.ts'],
    rules: { 'max-lines-per-function': ['warn', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
  {
    // Library code reports through return values and loggers, never the console.
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/cli/src/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // Hashing must see exactly one serialisation: RFC 8785 through @aifactory/core's canonicalJson.
    // One owner per table: no source file imports the store schema (see tableOwners below).
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/core/src/canonical-json.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [canonicalize, { name: '@aifactory/store/schema', message: schemaMessage }] }] },
  },
  // An owner's *-rows.ts files import its own tables, never another's.
  ...Object.entries(tableOwners).map(([owner, tables]) => ({
    files: [`packages/${owner}/src/**/*-rows.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            canonicalize,
            {
              name: '@aifactory/store/schema',
              importNames: Object.values(tableOwners)
                .flat()
                .filter((table) => !tables.includes(table)),
              message: `@aifactory/${owner} owns only ${tables.join(', ')}: read another package's table through its owner's functions.`,
            },
          ],
        },
      ],
    },
  })),
);
