// Lint rules that encode the architecture: firmware/core is pure (no I/O imports) and no promise may float.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'node:*',
  'fs',
  'fs/*',
  'net',
  'child_process',
  'os',
  'path',
  'http',
  'https',
  'dgram',
  'dns',
  'tls',
  'crypto',
  'better-sqlite3',
  'node-red',
  '@node-red/*',
  'serialport',
  '@serialport/*',
  'systeminformation',
  '@kubernetes/client-node',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.run/**', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    files: ['firmware/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ioModules,
              message: 'firmware/core is pure: move I/O to an adapter outside core and pass it in.',
            },
            {
              group: ['../../*', '!../../core/*'],
              message: 'firmware/core may only import from firmware/core.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'require', 'Buffer', 'setTimeout', 'setInterval'],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
);
