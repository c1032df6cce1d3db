// Lint setup. Besides the recommended rules it enforces the house plan's one-way dependencies
// (STYLE.md, "Dependencies point one way") with import-path restrictions per layer.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, banned, why) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: banned.map((group) => ({ group: [group], message: why })) },
    ],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/api/gen/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
  layer(
    ['src/language/**/*.ts'],
    ['**/engine/**', '**/storage/**', '**/api/**', '**/cli/**', '**/config/**', '**/server*'],
    'language/ imports nothing below it',
  ),
  layer(['src/schema/**/*.ts'], ['**/engine/**', '**/storage/**', '**/api/**', '**/cli/**'], 'schema/ is below engine and storage'),
  layer(['src/storage/**/*.ts'], ['**/engine/**', '**/api/**', '**/cli/**', '**/server*'], 'storage never imports engine or api'),
  layer(
    ['src/engine/**/*.ts'],
    ['**/api/**', '**/cli/**', '**/server*', '**/storage/memory/**', '**/storage/postgres/**'],
    'engine knows the storage contract, never a backend',
  ),
  layer(['src/api/**/*.ts'], ['**/storage/memory/**', '**/storage/postgres/**', '**/cli/**'], 'only server.ts and cli/ pick stores'),
);
