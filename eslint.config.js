// Lint rules, including the import boundaries of ../shared/STYLE.md ("What may import what").
// Each exception names a reason and an issue, the Kubernetes convention.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const SERVICES = [
  'identity',
  'compute',
  'placement',
  'image',
  'network',
  'volume',
  'object',
  'orchestration',
  'telemetry',
  'dashboard',
];

const fakes = {
  group: ['**/fake-*', '**/in-memory-*', '**/virt/fake/**'],
  message:
    'Fakes are for tests and src/cli only (STYLE.md: fakes, not mocks; one composition root).',
};

/** Patterns that forbid reaching into other services (their client.ts is the only door). */
function otherServices(own) {
  return SERVICES.filter((s) => s !== own).map((s) => ({
    group: [`**/${s}/**`, `!**/${s}/client.ts`],
    message: `Talk to ${s} only through its client.ts (type-only import), over HTTP or the bus.`,
  }));
}

export default tseslint.config(
  { ignores: ['node_modules/**', '**/*.d.ts'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { node: { extensions: ['.ts', '.js'] } } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false } },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/only-throw-error': 'error',
      'import-x/no-cycle': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['src/common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...SERVICES.map((s) => ({
              group: [`**/${s}/**`],
              message: 'src/common imports no service.',
            })),
            { group: ['**/cli/**'], message: 'src/common does not import the composition root.' },
          ],
        },
      ],
    },
  },
  // src/common/privileged is for virt drivers, network and volume agents and image conversion only.
  ...SERVICES.map((svc) => ({
    files: [`src/${svc}/**/*.ts`],
    ignores: ['**/fake-*.ts', '**/in-memory-*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            fakes,
            ...otherServices(svc),
            { group: ['**/cli/**'], message: 'Services do not import the composition root.' },
          ],
        },
      ],
    },
  })),
  ...SERVICES.map((svc) => ({
    files: [`src/${svc}/api/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            fakes,
            ...otherServices(svc),
            {
              group: ['../db/**', '**/db/**'],
              message: 'api/ goes through the domain, never db/.',
            },
            {
              group: ['**/agent/**', '**/conductor/**', '**/scheduler/**'],
              message: 'api/ does not import workers.',
            },
          ],
        },
      ],
    },
  })),
  ...SERVICES.map((svc) => ({
    files: [`src/${svc}/db/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/api/**'], message: 'db/ imports only common/db.' },
            ...otherServices(svc),
          ],
        },
      ],
    },
  })),
  {
    files: ['src/compute/scheduler/filters/**/*.ts', 'src/compute/scheduler/weighers/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/db/**', '**/client.ts', '**/messaging/**', 'node:*'],
              message: 'Filters and weighers do no I/O.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // node:test's describe/it return promises that the runner tracks itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      'no-console': 'off',
    },
  },
  {
    files: ['eslint.config.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
