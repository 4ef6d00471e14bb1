/**
 * Nova's AggregateInstanceExtraSpecsFilter: a flavor extra spec scoped
 * `aggregate_instance_extra_specs:` (or not scoped at all) must be matched by the metadata of one
 * of the host's aggregates. A value may be `<in> text` (the metadata contains it) or, with
 * Nova's operators, `s== text`, `<or> a <or> b`; anything else is compared as it is.
 */
import type { HostFilter } from '../filter.ts';

const SCOPE = 'aggregate_instance_extra_specs:';

function wanted(specs: Readonly<Record<string, string>>): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, value] of Object.entries(specs)) {
    if (key.startsWith(SCOPE)) out.push([key.slice(SCOPE.length), value]);
    else if (!key.includes(':')) out.push([key, value]);
  }
  return out;
}

/** Whether one aggregate value (Nova splits comma-separated ones) satisfies the spec. */
function matches(spec: string, values: readonly string[]): boolean {
  const all = values.flatMap((v) => v.split(',').map((x) => x.trim()));
  const trimmed = spec.trim();
  if (trimmed.startsWith('<in>')) {
    const needle = trimmed.slice(4).trim();
    return values.some((v) => v.includes(needle));
  }
  if (trimmed.startsWith('<or>')) {
    const options = trimmed
      .split('<or>')
      .map((o) => o.trim())
      .filter((o) => o !== '');
    return options.some((o) => all.includes(o));
  }
  const plain = trimmed.replace(/^(s==|==|=)\s*/, '');
  return all.includes(plain);
}

export const aggregateInstanceExtraSpecsFilter: HostFilter = {
  name: 'AggregateInstanceExtraSpecsFilter',
  applies: (request) => wanted(request.flavorExtraSpecs).length > 0,
  passes(host, request) {
    for (const [key, spec] of wanted(request.flavorExtraSpecs)) {
      const values = host.aggregateMetadata[key];
      if (values === undefined || !matches(spec, values))
        return `host ${host.host} has no aggregate with ${key}=${spec}`;
    }
    return true;
  },
};
