/**
 * `/v2.0/extensions`: the API extensions this server implements, named and described exactly as
 * neutron-lib's definitions do, because clients (the CLI, Nova, Heat) look them up by alias
 * before using the attributes they add.
 */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { NotFoundError } from '../../common/errors.ts';

type Extension = { name: string; alias: string; description: string; updated: string };

function ext(alias: string, name: string, description: string, updated: string): Extension {
  return { name, alias, description, updated };
}

export const EXTENSIONS: readonly Extension[] = [
  ext(
    'project-id',
    'project_id field enabled',
    'Extension that indicates that project_id field is enabled.',
    '2016-09-09T09:09:09-09:09',
  ),
  ext(
    'pagination',
    'Pagination support',
    'Extension that indicates that pagination is enabled.',
    '2016-06-12T00:00:00-00:00',
  ),
  ext(
    'sorting',
    'Sorting support',
    'Extension that indicates that sorting is enabled.',
    '2016-06-12T00:00:00-00:00',
  ),
  ext(
    'filter-validation',
    'Filter parameters validation',
    'Provides validation on filter parameters.',
    '2018-03-21T10:00:00-00:00',
  ),
  ext(
    'empty-string-filtering',
    'Empty String Filtering Extension',
    'Allow filtering by attributes with empty string value',
    '2018-05-01T10:00:00-00:00',
  ),
  ext(
    'standard-attr-description',
    'standard-attr-description',
    'Extension to add descriptions to standard attributes',
    '2016-02-10T10:00:00-00:00',
  ),
  ext(
    'standard-attr-timestamp',
    'Resource timestamps',
    'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.',
    '2016-09-12T10:00:00-00:00',
  ),
  ext(
    'standard-attr-revisions',
    'Resource revision numbers',
    'This extension will display the revision number of neutron resources.',
    '2016-04-11T10:00:00-00:00',
  ),
  ext(
    'revision-if-match',
    'If-Match constraints based on revision_number',
    'Extension indicating that If-Match based on revision_number is supported.',
    '2016-12-11T00:00:00-00:00',
  ),
  ext(
    'standard-attr-tag',
    'Tag support for resources with standard attribute: port, subnet, subnetpool, network, security_group, router, floatingip',
    'Enables to set tag on resources with standard attribute.',
    '2017-01-01T00:00:00-00:00',
  ),
  ext(
    'tag-creation',
    'Tag creation extension',
    'Allow to create multiple tags for a resource',
    '2019-06-03T10:00:00-00:00',
  ),
  ext(
    'tag-ports-during-bulk-creation',
    'Tag Ports During Bulk Creation',
    'Allow to tag ports during bulk creation',
    '2019-12-12T10:00:00-00:00',
  ),
  ext(
    'quotas',
    'Quota management support',
    'Expose functions for quotas management per project',
    '2012-07-29T10:00:00-00:00',
  ),
  ext(
    'quota_details',
    'Quota details management support',
    'Expose functions for quotas usage statistics per project',
    '2017-02-10T10:00:00-00:00',
  ),
  ext(
    'quota-check-limit',
    'Quota engine limit check',
    'Support for checking the resource usage before applying a new quota limit',
    '2023-05-24T10:00:00-00:00',
  ),
  ext(
    'provider',
    'Provider Network',
    'Expose mapping of virtual networks to physical networks',
    '2012-09-07T10:00:00-00:00',
  ),
  ext(
    'external-net',
    'Neutron external network',
    'Adds external network attribute to network resource.',
    '2013-01-14T10:00:00-00:00',
  ),
  ext(
    'net-mtu',
    'Network MTU',
    'Provides MTU attribute for a network resource.',
    '2015-03-25T10:00:00-00:00',
  ),
  ext(
    'net-mtu-writable',
    'Network MTU (writable)',
    'Provides a writable MTU attribute for a network resource.',
    '2017-07-12T00:00:00-00:00',
  ),
  ext(
    'network_availability_zone',
    'Network Availability Zone',
    'Availability zone support for network.',
    '2015-01-01T10:00:00-00:00',
  ),
  ext('port-security', 'Port Security', 'Provides port security', '2012-07-23T10:00:00-00:00'),
  ext(
    'subnet-service-types',
    'Subnet service types',
    'Provides ability to set the subnet service_types field',
    '2016-03-15T18:00:00-00:00',
  ),
  ext(
    'subnet-external-network',
    'Subnet belongs to an external network',
    'Informs if the subnet belongs to an external network',
    '2021-05-24T10:00:00-00:00',
  ),
  ext(
    'binding',
    'Port Binding',
    'Expose port bindings of a virtual port to external application',
    '2014-02-03T10:00:00-00:00',
  ),
  ext(
    'allowed-address-pairs',
    'Allowed Address Pairs',
    'Provides allowed address pairs',
    '2013-07-23T10:00:00-00:00',
  ),
  ext(
    'extra_dhcp_opt',
    'Neutron Extra DHCP options',
    'Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)',
    '2013-03-17T12:00:00-00:00',
  ),
  ext(
    'ip-substring-filtering',
    'IP address substring filtering',
    'Provides IP address substring filtering when listing ports',
    '2017-11-28T09:00:00-00:00',
  ),
  ext(
    'security-group',
    'security-group',
    'The security groups extension.',
    '2012-10-05T10:00:00-00:00',
  ),
  ext(
    'stateful-security-group',
    'Stateful security group',
    'Indicates if the security group is stateful or not',
    '2019-11-26T09:00:00-00:00',
  ),
  ext(
    'security-groups-normalized-cidr',
    'Normalized CIDR field for security group rules',
    'Add new field with normalized remote_ip_prefix cidr in SG rule',
    '2020-07-18T10:00:00-00:00',
  ),
  ext(
    'port-security-groups-filtering',
    'Port filtering on security groups',
    'Provides security groups filtering when listing ports',
    '2018-01-09T09:00:00-00:00',
  ),
  ext(
    'security-groups-shared-filtering',
    'Security group filtering on the shared field',
    'Support filtering security groups on the shared field',
    '2021-06-01T10:00:00-00:00',
  ),
  ext(
    'security-groups-rules-belongs-to-default-sg',
    "Security group rule belongs to the project's default security group",
    "Flag to determine if the security group rule belongs to the project's default security group",
    '2023-07-28T00:00:00-00:00',
  ),
  ext(
    'router',
    'Neutron L3 Router',
    'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.',
    '2012-07-20T10:00:00-00:00',
  ),
  ext(
    'ext-gw-mode',
    'Neutron L3 Configurable external gateway mode',
    'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway',
    '2013-03-28T10:00:00-00:00',
  ),
  ext(
    'extraroute',
    'Neutron Extra Route',
    'Extra routes configuration for L3 router',
    '2013-02-01T10:00:00-00:00',
  ),
  ext(
    'router_availability_zone',
    'Router Availability Zone',
    'Availability zone support for router.',
    '2015-01-01T10:00:00-00:00',
  ),
  ext(
    'fip-port-details',
    'Floating IP Port Details Extension',
    'Add port_details attribute to Floating IP resource',
    '2018-04-09T10:00:00-00:00',
  ),
  ext(
    'floating-ip-port-forwarding',
    'Floating IP Port Forwarding',
    'Allow port forwarding from floating IP port to an internal port',
    '2018-04-24T00:00:00-00:00',
  ),
  ext(
    'expose-port-forwarding-in-fip',
    'Expose Floating IP port forwardings',
    'Expose port forwarding fields in floating IP response',
    '2019-04-25T00:00:00-00:00',
  ),
  ext(
    'floating-ip-port-forwarding-description',
    'Floating IP Port Forwarding new attribute description',
    'Add a description field to Port Forwarding rules',
    '2019-11-01T10:00:00-00:00',
  ),
  ext(
    'floating-ip-port-forwarding-port-ranges',
    'Floating IP Port Forwarding support port ranges',
    'Add support to port ranges',
    '2021-02-04T10:00:00-00:00',
  ),
  ext(
    'network-ip-availability',
    'Network IP Availability',
    'Provides IP availability data for each network and subnet.',
    '2015-09-24T00:00:00-00:00',
  ),
  ext(
    'rbac-policies',
    'RBAC Policies',
    'Allows creation and modification of policies that control project access to resources.',
    '2015-06-17T12:15:12-00:00',
  ),
  ext(
    'subnet_allocation',
    'Subnet Allocation',
    'Enables allocation of subnets from a subnet pool',
    '2015-03-30T10:00:00-00:00',
  ),
  ext(
    'default-subnetpools',
    'Default Subnetpools',
    'Provides ability to mark and use a subnetpool as the default.',
    '2016-02-18T18:00:00-00:00',
  ),
];

const AliasParams = Type.Object({ alias: Type.String({ maxLength: 255 }) });

function view(e: Extension): Record<string, unknown> {
  return {
    name: e.name,
    alias: e.alias,
    description: e.description,
    updated: e.updated,
    links: [],
  };
}

export function extensionRoutes(app: App): void {
  app.get('/v2.0/extensions', async () => ({ extensions: EXTENSIONS.map(view) }));
  app.get('/v2.0/extensions/:alias', { schema: { params: AliasParams } }, async (request) => {
    const found = EXTENSIONS.find((e) => e.alias === request.params.alias);
    if (!found) throw extensionNotFound(request.params.alias);
    return { extension: view(found) };
  });
}

function extensionNotFound(alias: string): NotFoundError {
  return new NotFoundError(`Extension with alias ${alias} does not exist`, 'network.not_found', {
    details: { type: 'HTTPNotFound' },
  });
}
