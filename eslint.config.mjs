import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', 'asterisk/sounds/', 'test-artifacts/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['services/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    // The screening engine must stay free of telephony, queue and HTTP libraries.
    files: ['services/screening/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'ari-client',
                'drachtio-srf',
                'bullmq',
                'fastify',
                'fastify/*',
                '@fastify/*',
                'pg',
                'better-sqlite3',
              ],
              message: 'services/screening imports no telephony, queue, HTTP or SQL library.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
      },
    },
  },
  {
    // the dashboard runs in the browser
    files: ['services/console/dashboard/**/*.js'],
    languageOptions: { sourceType: 'script', globals: globals.browser },
  },
);
