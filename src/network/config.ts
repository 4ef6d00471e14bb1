/** The `network:` section of the configuration (upstream's `[DEFAULT]`, `[ml2*]` and `[quotas]`). */
import Type from 'typebox';
import type { Static } from 'typebox';

const QuotaDefaults = Type.Object(
  {
    network: Type.Integer({ default: 100, minimum: -1 }),
    subnet: Type.Integer({ default: 100, minimum: -1 }),
    port: Type.Integer({ default: 500, minimum: -1 }),
    security_group: Type.Integer({ default: 10, minimum: -1 }),
    security_group_rule: Type.Integer({ default: 100, minimum: -1 }),
    router: Type.Integer({ default: 10, minimum: -1 }),
    floatingip: Type.Integer({ default: 50, minimum: -1 }),
    rbac_policy: Type.Integer({ default: 10, minimum: -1 }),
    router_route: Type.Integer({ default: 30, minimum: -1 }),
    subnetpool: Type.Integer({ default: -1, minimum: -1 }),
  },
  { additionalProperties: false, default: {} },
);

export const NetworkConfigSchema = Type.Object(
  {
    base_mac: Type.String({
      default: 'fa:16:3e:00:00:00',
      pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$',
      description: 'Port MACs keep the first three octets (and any non-zero later ones) of this.',
    }),
    global_physnet_mtu: Type.Integer({
      default: 1500,
      minimum: 68,
      description: 'MTU of the physical networks; VXLAN networks get 50 bytes less.',
    }),
    tenant_network_type: Type.Union(
      [Type.Literal('vxlan'), Type.Literal('vlan'), Type.Literal('flat')],
      {
        default: 'vxlan',
        description: 'The type of networks projects create without provider attributes.',
      },
    ),
    vni_ranges: Type.Array(Type.String({ pattern: '^\\d+:\\d+$' }), {
      default: ['1:65535'],
      description: 'VXLAN ids given to project networks, as `min:max`.',
    }),
    network_vlan_ranges: Type.Array(Type.String({ pattern: '^[^:]+(:\\d+:\\d+)?$' }), {
      default: ['physnet1:1000:2999'],
      description: 'Physical networks, each with the VLAN ids project networks may get.',
    }),
    flat_networks: Type.Array(Type.String(), {
      default: ['*'],
      description: "Physical networks flat networks may use ('*': any).",
    }),
    max_dns_nameservers: Type.Integer({ default: 5, minimum: 0 }),
    max_subnet_host_routes: Type.Integer({ default: 20, minimum: 0 }),
    max_fixed_ips_per_port: Type.Integer({ default: 5, minimum: 1 }),
    quotas: QuotaDefaults,
  },
  { additionalProperties: false, default: {} },
);

export type NetworkConfig = Static<typeof NetworkConfigSchema>;
