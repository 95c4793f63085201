// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/core/src/canonical-json.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'canonicalize', message: 'Use canonicalJson from @aifactory/core.' }] }],
    },
  },
);
