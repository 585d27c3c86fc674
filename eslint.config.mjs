import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const LAYERS = [
  'domain',
  'common',
  'stir',
  'screening',
  'events',
  'flagged-log',
  'abuse-reports',
  'worker',
  'carrier',
  'sip',
  'kamailio',
  'ari',
  'console',
  'cli',
];

/** One no-restricted-imports rule per layer: every folder it may not import from, by relative path. */
function layerRules(allowed, extra = {}) {
  return Object.entries(allowed).map(([layer, below]) => ({
    files: [`services/${layer}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: LAYERS.filter((l) => l !== layer && !below.includes(l)).flatMap((l) => [`../${l}`, `../${l}/*`]),
              message: `services/${layer} may import only from ${below.length ? below.join(', ') : 'no other folder'} (layers: lower folders never import higher ones).`,
            },
            ...(extra[layer] ?? []),
          ],
        },
      ],
    },
  }));
}

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
  // Layers, from the bottom up: each folder of services/ imports only from the folders below it (DESIGN: "each
  // folder imports only folders below it"). A new import that runs up a layer fails `npm run lint`.
  ...layerRules(
    {
      domain: [],
      common: ['domain'],
      stir: ['domain', 'common'],
      screening: ['domain', 'common', 'stir'],
      events: ['domain', 'common'],
      'flagged-log': ['domain', 'common', 'events'],
      'abuse-reports': ['domain', 'common', 'screening', 'flagged-log'],
      worker: ['domain', 'common', 'events', 'flagged-log', 'abuse-reports'],
      carrier: ['domain', 'common', 'screening', 'events'],
      sip: ['domain', 'common', 'screening', 'events', 'carrier'],
      kamailio: ['domain', 'common', 'screening', 'events', 'carrier'],
      ari: ['domain', 'common', 'screening', 'events'],
      console: ['domain', 'common', 'screening', 'events', 'flagged-log', 'abuse-reports'],
    },
    {
      // the screening engine stays free of telephony, queue, HTTP and SQL libraries
      screening: [
        {
          group: ['ari-client', 'drachtio-srf', 'bullmq', 'fastify', 'fastify/*', '@fastify/*', 'pg', 'better-sqlite3'],
          message: 'services/screening imports no telephony, queue, HTTP or SQL library.',
        },
      ],
      // STIR/SHAKEN verification: crypto through jose and node, HTTPS through node; no telephony, queue or SQL
      stir: [
        {
          group: ['ari-client', 'drachtio-srf', 'bullmq', 'fastify', 'fastify/*', '@fastify/*', 'pg', 'better-sqlite3'],
          message: 'services/stir imports no telephony, queue, HTTP-server or SQL library.',
        },
      ],
      // what both carrier fronts share decides; it carries nothing out
      carrier: [
        {
          group: ['ari-client', 'drachtio-srf', 'bullmq', 'node:dgram'],
          message: 'services/carrier decides what a verdict does to a SIP call; the fronts carry it out.',
        },
      ],
    },
  ),
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
