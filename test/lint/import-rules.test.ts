/**
 * The import boundaries of STYLE.md are enforced by ESLint; these cases prove each rule bites
 * (a rule that silently matches nothing would let the architecture rot unnoticed).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { REPO_ROOT } from '../helpers/process.ts';

// The snippets are not files of the TypeScript project, so lint them without type information;
// the import rules need none.
const eslint = new ESLint({
  cwd: REPO_ROOT,
  overrideConfig: [tseslint.configs.disableTypeChecked],
});

async function restrictedImports(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${REPO_ROOT}/${file}` });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports')
    .map((m) => m.message);
}

describe('lint: import boundaries from STYLE.md', { timeout: 120_000 }, () => {
  const forbidden: { name: string; file: string; code: string; message: RegExp }[] = [
    {
      name: 'src/common imports no service',
      file: 'src/common/http/x.ts',
      code: "import { createComputeService } from '../../compute/service.ts';\nexport const x = createComputeService;\n",
      message: /src\/common imports no service/,
    },
    {
      name: 'a service reaches another only through its client',
      file: 'src/compute/x.ts',
      code: "import { createImageService } from '../image/service.ts';\nexport const x = createImageService;\n",
      message: /only through its client\.ts/,
    },
    {
      name: 'api/ does not import db/',
      file: 'src/compute/api/servers.ts',
      code: "import { rows } from '../db/instances.ts';\nexport const x = rows;\n",
      message: /api\/ goes through the domain/,
    },
    {
      name: 'production code does not import fakes',
      file: 'src/compute/conductor/build.ts',
      code: "import { FakeDriver } from '../virt/fake/fake-driver.ts';\nexport const x = FakeDriver;\n",
      message: /Fakes are for tests and src\/cli only/,
    },
    {
      name: 'only some services run privileged commands',
      file: 'src/identity/x.ts',
      code: "import { run } from '../common/privileged/run.ts';\nexport const x = run;\n",
      message: /privileged commands/,
    },
    {
      name: 'filters do no I/O',
      file: 'src/compute/scheduler/filters/ram-filter.ts',
      code: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
      message: /Filters and weighers do no I\/O/,
    },
  ];
  for (const c of forbidden) {
    it(`rejects: ${c.name}`, async () => {
      const messages = await restrictedImports(c.file, c.code);
      assert.ok(
        messages.some((m) => c.message.test(m)),
        `got: ${JSON.stringify(messages)}`,
      );
    });
  }

  const allowed: { name: string; file: string; code: string }[] = [
    {
      name: 'a service imports another service client, type-only',
      file: 'src/compute/x.ts',
      code: "import type { ImageClient } from '../image/client.ts';\nexport type X = ImageClient;\n",
    },
    {
      name: 'src/cli wires services together',
      file: 'src/cli/x.ts',
      code: "import { createComputeService } from '../compute/service.ts';\nexport const x = createComputeService;\n",
    },
    {
      name: 'tests import fakes',
      file: 'test/compute/x.test.ts',
      code: "import { FakeDriver } from '../../src/compute/virt/fake/fake-driver.ts';\nexport const x = FakeDriver;\n",
    },
  ];
  for (const c of allowed) {
    it(`allows: ${c.name}`, async () => {
      assert.deepEqual(await restrictedImports(c.file, c.code), []);
    });
  }
});
