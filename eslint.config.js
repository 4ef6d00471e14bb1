// Lint rules, including the import boundaries of ../shared/STYLE.md ("What may import what").
// Each exception names a reason and an issue, the Kubernetes convention. Import cycles are
// checked by test/lint/no-cycles.test.ts (eslint-plugin-import-x pulls in a native resolver
// whose platform packages npm 11 leaves out of the lock file, which breaks `npm ci`).
import tseslint from 'typescript-eslint';

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

// Patterns are regular expressions over the import specifier: ESLint's gitignore-style `group`
// patterns never match specifiers that start with '../', which is most of ours.
const fakes = {
  regex: '(^|/)(fake-[^/]*|in-memory-[^/]*)$|(^|/)virt/fake/',
  message:
    'Fakes are for tests and src/cli only (STYLE.md: fakes, not mocks; one composition root).',
};

const cli = {
  regex: '(^|/)cli/',
  message: 'Only src/cli, the composition root, wires parts together.',
};

/**
 * Privileged commands (qemu-img, ip, nft, dnsmasq, mount) are for virt drivers, the network and
 * volume agents and image conversion only (STYLE.md).
 */
const PRIVILEGED_USERS = new Set(['compute', 'network', 'volume', 'image']);
const privileged = {
  regex: '(^|/)common/privileged/',
  message:
    'Only virt drivers, network and volume agents and image conversion run privileged commands.',
};

/** Patterns that forbid reaching into other services (their client.ts is the only door). */
function otherServices(own) {
  return SERVICES.filter((s) => s !== own).map((s) => ({
    regex: `(^|/)${s}/(?!client\\.ts$)`,
    message: `Talk to ${s} only through its client.ts (type-only import), over HTTP or the bus.`,
  }));
}

function restrict(...patterns) {
  return { 'no-restricted-imports': ['error', { patterns }] };
}

export default tseslint.config(
  { ignores: ['node_modules/**', '**/*.d.ts'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
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
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['src/common/**/*.ts'],
    rules: restrict(
      { regex: `(^|/)(${SERVICES.join('|')})/`, message: 'src/common imports no service.' },
      cli,
    ),
  },
  // Later blocks replace the options of earlier ones for the same file, so each repeats the
  // service-wide patterns before adding its own.
  ...SERVICES.map((svc) => ({
    files: [`src/${svc}/**/*.ts`],
    ignores: ['**/fake-*.ts', '**/in-memory-*.ts'],
    rules: restrict(
      fakes,
      cli,
      ...otherServices(svc),
      ...(PRIVILEGED_USERS.has(svc) ? [] : [privileged]),
    ),
  })),
  ...SERVICES.map((svc) => ({
    files: [`src/${svc}/api/**/*.ts`],
    rules: restrict(
      fakes,
      cli,
      ...otherServices(svc),
      { regex: '(^|/)db/', message: 'api/ goes through the domain, never db/.' },
      { regex: '(^|/)(agent|conductor|scheduler)/', message: 'api/ does not import workers.' },
    ),
  })),
  ...SERVICES.map((svc) => ({
    files: [`src/${svc}/db/**/*.ts`],
    rules: restrict(fakes, cli, ...otherServices(svc), {
      regex: '(^|/)(api|agent|conductor|scheduler)/',
      message: 'db/ imports only common/db.',
    }),
  })),
  {
    files: ['src/compute/scheduler/filters/**/*.ts', 'src/compute/scheduler/weighers/**/*.ts'],
    rules: restrict(fakes, cli, ...otherServices('compute'), {
      regex: '^node:|(^|/)db/|(^|/)client\\.ts$|(^|/)messaging/|(^|/)privileged/',
      message: 'Filters and weighers do no I/O.',
    }),
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
      // Tests print JSON values they built themselves into assertion messages.
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    files: ['eslint.config.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
