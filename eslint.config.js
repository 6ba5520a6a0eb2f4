import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'packages/shared/drizzle/**',
      'data/**',
      'test/artifacts/**',
      'bench/.work/**',
      'apps/lovsync/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration through @lovsync/shared/config only.',
        },
      ],
    },
  },
  // Layout (issue 11): apps/ is the composition root; nothing below it imports it back, and the
  // benches share code with the tests only through @lovsync/testkit.
  {
    files: ['packages/**/*.ts', 'services/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^@lovsync/app(/|$)|(^|/)apps/',
              message: 'packages/ and services/ must not import from apps/ (the composition root).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+test(/|$)',
              message: 'bench/ must not import from test/: shared helpers live in @lovsync/testkit.',
            },
          ],
        },
      ],
    },
  },
  {
    files: [
      'packages/shared/src/config.ts',
      'packages/testkit/**',
      'test/**',
      'bench/**',
      'packages/shared/drizzle.config.ts',
    ],
    rules: { 'no-restricted-properties': 'off' },
  },
);
