import tseslint from 'typescript-eslint'

/** Imports that cross a package boundary other than through an entry point. */
const PACKAGE_BOUNDARY = [
  { group: ['**/src/**', '**/packages/**', '@tessera/*/src/**', '@tessera/*/dist/**'], message: 'import another package through its entry point (@tessera/<name>), never its files' },
  { group: ['**/test/**', '**/test-support/**'], message: 'published code must not import test code' },
]

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'packages/server/web/**', 'test-output/**', '**/*.mjs', '**/*.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's describe/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/only-throw-error': 'off',
    },
  },
  {
    // Tests pass methods of helper objects around freely; none of them rely on `this`.
    files: ['**/test/**/*.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  {
    // The CommonJS consumer of the pack check exists to prove that require() of the packages works.
    files: ['**/*.cts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Packages meet only at their entry points (package.json "exports"): published code never
    // reaches into another package's files, nor into test code (a packed file that imports a
    // test helper is broken once installed).
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/*/src/**/test/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: PACKAGE_BOUNDARY }] },
  },
  {
    // `@tessera/core/internal` is plumbing between Tessera's own packages, outside semver: the
    // examples show what an application may use.
    files: ['examples/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['@tessera/*/internal'], message: 'applications use the public entry points, not @tessera/core/internal' }] }] },
  },
  {
    // Dependencies point one way: core knows nothing of Redis, HTTP or the server.
    files: ['packages/core/src/**/*.ts'],
    ignores: ['packages/core/src/**/test/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...PACKAGE_BOUNDARY, { group: ['@tessera/*', 'redis', 'fastify', 'express'], message: 'core depends on jose only' }] }],
    },
  },
)
