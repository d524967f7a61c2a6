// Lint for the whole repository: the library, the demo app, its tests, scripts and benchmarks.
// Formatting is Prettier's (eslint-config-prettier turns off the rules that would fight it).
import js from '@eslint/js';
import globals from 'globals';
import prettier from 'eslint-config-prettier';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '.next/**', '.next-e2e/**', '.data/**', 'src/generated/**', 'next-env.d.ts', 'bench/.exp/**', 'docs/api/**'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // The library's layers (core, sql, runtime, console, schedules, workflows, adapters) must not
    // import each other in a circle: a cycle hides which one is the foundation.
    files: ['packages/pg-conveyor/src/**/*.ts'],
    ...importX.flatConfigs.typescript,
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'packages/pg-conveyor/tsconfig.build.json' })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    // The library's tests use it as its users do, through its entry points ('pg-conveyor',
    // 'pg-conveyor/worker', ...). Unit tests of an internal module live in test/internal/.
    files: ['packages/pg-conveyor/test/**/*.ts', 'tests/**/*.ts'],
    ignores: ['packages/pg-conveyor/test/internal/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)src/(core|sql|runtime|console|schedules|workflows|observability|adapters|testing)(/|$)',
              message: 'Import the library through its entry points; unit tests of internals go in packages/pg-conveyor/test/internal/.',
            },
          ],
        },
      ],
    },
  },
  prettier,
);
