/** The wire shapes of identity entities, as Keystone renders them. */
import type { FastifyRequest } from 'fastify';
import type { CatalogEntry } from '../catalog.ts';
import type { Domain, Project } from '../resources.ts';
import type { TokenData } from '../tokens.ts';
import type { User } from '../users.ts';
import { selfLinks } from './links.ts';

export function domainView(request: FastifyRequest, d: Domain) {
  return {
    id: d.id,
    name: d.name,
    description: d.description,
    enabled: d.enabled,
    options: d.options,
    tags: [],
    links: selfLinks(request, `/domains/${d.id}`),
  };
}

export function projectView(request: FastifyRequest, p: Project) {
  return {
    ...p.extra,
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    parent_id: p.parent_id,
    description: p.description,
    enabled: p.enabled,
    is_domain: false,
    tags: p.tags,
    options: p.options,
    links: selfLinks(request, `/projects/${p.id}`),
  };
}

export function userView(request: FastifyRequest, u: User) {
  return {
    ...u.extra,
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: u.enabled,
    ...(u.default_project_id !== null ? { default_project_id: u.default_project_id } : {}),
    ...(u.description !== null ? { description: u.description } : {}),
    ...(u.email !== null ? { email: u.email } : {}),
    options: u.options,
    password_expires_at: u.password_expires_at,
    links: selfLinks(request, `/users/${u.id}`),
  };
}

/** The body of `POST/GET /v3/auth/tokens`. */
export function tokenView(data: TokenData, catalog: CatalogEntry[] | undefined) {
  const s = data.scope;
  return {
    token: {
      methods: data.methods,
      user: {
        domain: { id: data.userDomain.id, name: data.userDomain.name },
        id: data.user.id,
        name: data.user.name,
        password_expires_at: data.user.password_expires_at,
      },
      audit_ids: data.auditIds,
      expires_at: data.expiresAt,
      issued_at: data.issuedAt,
      ...(s.kind === 'project'
        ? {
            project: {
              domain: { id: s.domain.id, name: s.domain.name },
              id: s.project.id,
              name: s.project.name,
            },
            is_domain: false,
          }
        : {}),
      ...(s.kind === 'domain' ? { domain: { id: s.domain.id, name: s.domain.name } } : {}),
      ...(s.kind === 'system' ? { system: { all: true } } : {}),
      ...(s.kind !== 'unscoped'
        ? { roles: data.roles.map((r) => ({ id: r.id, name: r.name })) }
        : {}),
      ...(data.applicationCredential ? { application_credential: data.applicationCredential } : {}),
      ...(catalog !== undefined && s.kind !== 'unscoped' ? { catalog } : {}),
    },
  };
}
