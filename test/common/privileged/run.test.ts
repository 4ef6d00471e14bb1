import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ExecutableMissingError,
  flag,
  PrivilegedArgumentError,
  PrivilegedCommandError,
  PrivilegedRunner,
  run,
  type Arg,
  type Executable,
} from '../../../src/common/privileged/index.ts';

// Harmless programs from coreutils stand in for slow or chatty privileged ones.
const runner = new PrivilegedRunner({
  executables: {
    sleep: { installHint: 'apt-get install coreutils' },
    yes: { installHint: 'apt-get install coreutils' },
    false: { installHint: 'apt-get install coreutils' },
    'tstack-no-such-tool': { installHint: 'apt-get install tstack-no-such-package' },
  },
});

describe('privileged run', () => {
  const notAllowed = ['sh', 'bash', '/usr/bin/qemu-img', '../qemu-img', 'toString', 'constructor'];
  for (const command of notAllowed) {
    it(`refuses the executable ${JSON.stringify(command)}`, async () => {
      await assert.rejects(run(command as Executable, []), PrivilegedArgumentError);
    });
  }

  it('refuses an argument with a NUL byte even if it bypassed the helpers', async () => {
    await assert.rejects(runner.run('sleep', ['0\0' as Arg]), PrivilegedArgumentError);
  });

  it('a timeout kills the child', async () => {
    const started = Date.now();
    await assert.rejects(runner.run('sleep', [flag('30')], { timeoutMs: 200 }), (err: unknown) => {
      assert.ok(err instanceof PrivilegedCommandError);
      assert.equal(err.reason, 'timeout');
      assert.equal(err.signal, 'SIGKILL');
      assert.equal(err.command, 'sleep');
      return true;
    });
    // The promise settles only after the child exited, so this bounds the child's life.
    assert.ok(Date.now() - started < 5000);
  });

  it('an abort signal kills the child', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(
      runner.run('sleep', [flag('30')], { signal: controller.signal }),
      (err: unknown) => err instanceof PrivilegedCommandError && err.reason === 'signal',
    );
  });

  it('output beyond the cap kills the child', async () => {
    await assert.rejects(
      runner.run('yes', [], { maxOutputBytes: 64 * 1024 }),
      (err: unknown) => err instanceof PrivilegedCommandError && err.reason === 'output_too_large',
    );
  });

  it('a non-zero exit is a PrivilegedCommandError with the exit code and no environment', async () => {
    await assert.rejects(runner.run('false', []), (err: unknown) => {
      assert.ok(err instanceof PrivilegedCommandError);
      assert.deepEqual([err.reason, err.exitCode, err.status], ['exit', 1, 500]);
      assert.equal(err.message, 'false failed with exit code 1');
      assert.equal(JSON.stringify(err).includes('PATH'), false);
      return true;
    });
  });

  it('a missing executable says which package to install', async () => {
    await assert.rejects(runner.run('tstack-no-such-tool', []), (err: unknown) => {
      assert.ok(err instanceof ExecutableMissingError);
      assert.equal(
        err.message,
        'tstack-no-such-tool is not installed; apt-get install tstack-no-such-package',
      );
      return true;
    });
  });
});
