import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { StartupError } from '../../../src/common/errors.ts';
import { parsePolicyRules, readPolicyFile } from '../../../src/common/policy/policy-file.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tstack-policy-file-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function policyFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** The file's rules as name -> check string. */
function checkStrings(path: string): Record<string, string> {
  return Object.fromEntries(readPolicyFile(path).map((rule) => [rule.name, rule.check_str]));
}

describe('readPolicyFile', () => {
  const cases: { name: string; file: string; text: string; rules: Record<string, string> }[] = [
    {
      // oslo_policy test_policy.py test_load_yaml: plain YAML scalars and comments.
      name: 'YAML with comments',
      file: 'policy.yaml',
      text: [
        '# Define a custom rule.',
        'admin_or_owner: role:admin or project_id:%(project_id)s',
        '# The default rule is used when there is no action defined.',
        'default: []',
      ].join('\n'),
      rules: { admin_or_owner: 'role:admin or project_id:%(project_id)s', default: '@' },
    },
    {
      name: 'JSON',
      file: 'policy.json',
      text: '{"owner": "role:member", "compute:shelve": "!", "compute:get_all": ""}',
      rules: { owner: 'role:member', 'compute:shelve': '!', 'compute:get_all': '' },
    },
    {
      name: 'legacy list-of-lists',
      file: 'legacy.yaml',
      text: 'r: [["role:admin"], ["project_id:%(project_id)s", "role:projectadmin"]]\n',
      rules: { r: '(role:admin or (project_id:%(project_id)s and role:projectadmin))' },
    },
    { name: 'empty file', file: 'empty.yaml', text: '', rules: {} },
    { name: 'only comments', file: 'comments.yaml', text: '# nothing overridden\n', rules: {} },
    { name: 'empty map', file: 'map.json', text: '{}', rules: {} },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      assert.deepEqual(checkStrings(await policyFile(c.file, c.text)), c.rules);
    });
  }

  const badFiles: { name: string; text: string; message: RegExp }[] = [
    {
      name: 'bad check string',
      text: 'owner: "user_id:%(user_id)s and"\n',
      message:
        /^policy file .*bad-check-string\.yaml: Invalid policy rule "owner": expected a check at the end \(column 24 of "user_id:%\(user_id\)s and"\)$/,
    },
    {
      name: 'http check',
      text: 'owner: "http://example.test/%(x)s"\n',
      message: /rule "owner": http: checks .* not supported/,
    },
    {
      name: 'not a map',
      text: '- role:admin\n',
      message: /must be a map of rule name to check string, got a list/,
    },
    {
      name: 'number value',
      text: 'owner: 5\n',
      message: /rule "owner" must be a check string .*got number 5/,
    },
    {
      name: 'null value',
      text: 'owner:\n',
      message: /rule "owner" must be a check string .*got null/,
    },
    {
      name: 'list of numbers',
      text: 'owner: [1]\n',
      message: /rule "owner" must be a check string .*got a list/,
    },
    {
      name: 'bad check inside a list',
      text: 'owner: [["role:admin", "nonsense"]]\n',
      message: /Invalid policy rule "owner": expected a check of the form kind:value/,
    },
    { name: 'invalid YAML', text: 'owner: [\n', message: /is not valid YAML/ },
    {
      name: 'duplicate key',
      text: 'owner: "@"\nowner: "!"\n',
      message: /is not valid YAML.*unique/s,
    },
  ];
  for (const { name, text, message } of badFiles) {
    it(`fails naming the file: ${name}`, async () => {
      const path = await policyFile(`${name.replaceAll(' ', '-')}.yaml`, text);
      assert.throws(
        () => readPolicyFile(path),
        (err: unknown) => {
          assert.ok(err instanceof StartupError, String(err));
          assert.match(err.message, message);
          assert.ok(err.message.startsWith(`policy file ${path}`));
          return true;
        },
      );
    });
  }

  it('fails for a missing file', () => {
    const path = join(dir, 'absent.yaml');
    assert.throws(
      () => readPolicyFile(path),
      (err: unknown) =>
        err instanceof StartupError && err.message.startsWith(`policy file ${path} cannot be read`),
    );
  });
});

describe('parsePolicyRules', () => {
  it('parses each rule once, keeping the check string as written', () => {
    const [rule] = parsePolicyRules({ owner: 'user_id:%(user_id)s' }, 'test overrides');
    assert.equal(rule?.check_str, 'user_id:%(user_id)s');
    assert.equal(rule?.node.kind, 'generic');
  });

  it('names the source in errors', () => {
    assert.throws(() => parsePolicyRules('role:admin', 'test overrides'), {
      name: 'StartupError',
      message: 'test overrides must be a map of rule name to check string, got string "role:admin"',
    });
  });
});
