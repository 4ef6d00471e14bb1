/**
 * `ip link` on top of `run`, for the links tstack makes: bridges and guests' tap devices, all
 * named `ts-…` (see `linkName`), so nothing here can touch an interface of the host's own.
 */
import { byteSize, flag, linkName, type Arg } from './args.ts';
import { PrivilegedCommandError } from './errors.ts';
import { PrivilegedRunner, type RunOptions } from './run.ts';

export type IpOptions = RunOptions & { runner?: PrivilegedRunner };

const DEFAULT_RUNNER = new PrivilegedRunner();

function ip(args: Arg[], options: IpOptions): Promise<{ stdout: string }> {
  const { runner, ...run } = options;
  return (runner ?? DEFAULT_RUNNER).run('ip', args, run);
}

/** `ip -j link show …` as the list of interface names it prints. */
async function names(args: Arg[], options: IpOptions): Promise<string[]> {
  const { stdout } = await ip([flag('-j'), flag('link'), flag('show'), ...args], options);
  const links = JSON.parse(stdout === '' ? '[]' : stdout) as { ifname?: unknown }[];
  return links.flatMap((l) => (typeof l.ifname === 'string' ? [l.ifname] : []));
}

/** Whether the link `name` exists. */
export async function linkExists(name: string, options: IpOptions = {}): Promise<boolean> {
  try {
    return (await names([flag('dev'), linkName(name)], options)).length > 0;
  } catch (err) {
    // `ip link show dev X` exits 1 ("Device does not exist") for a missing link.
    if (err instanceof PrivilegedCommandError && err.reason === 'exit') return false;
    throw err;
  }
}

/** Makes the bridge `name` (no address, no uplink) and brings it up; one that exists is fine. */
export async function ensureBridge(name: string, options: IpOptions = {}): Promise<void> {
  const bridge = linkName(name);
  if (!(await linkExists(name, options))) {
    try {
      await ip([flag('link'), flag('add'), bridge, flag('type'), flag('bridge')], options);
    } catch (err) {
      // Another agent of this machine made it meanwhile.
      if (!(await linkExists(name, options))) throw err;
    }
  }
  await ip([flag('link'), flag('set'), bridge, flag('up')], options);
}

/** Puts the link `port` on `bridge` with `mtu`, and brings it up. */
export async function plugIntoBridge(
  port: string,
  bridge: string,
  mtu: number,
  options: IpOptions = {},
): Promise<void> {
  await ip(
    [
      flag('link'),
      flag('set'),
      flag('dev'),
      linkName(port),
      flag('master'),
      linkName(bridge),
      flag('mtu'),
      byteSize(mtu),
      flag('up'),
    ],
    options,
  );
}

/** The links on `bridge`. */
export async function bridgePorts(bridge: string, options: IpOptions = {}): Promise<string[]> {
  return names([flag('master'), linkName(bridge)], options);
}

/** Deletes the link `name`; one that is gone is fine. */
export async function deleteLink(name: string, options: IpOptions = {}): Promise<void> {
  if (!(await linkExists(name, options))) return;
  await ip([flag('link'), flag('delete'), flag('dev'), linkName(name)], options);
}
