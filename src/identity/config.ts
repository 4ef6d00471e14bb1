/** The `identity:` section of the configuration (Keystone's `[token]`, `[security_compliance]`…). */
import Type from 'typebox';
import type { Static } from 'typebox';

export const IdentityConfigSchema = Type.Object(
  {
    token_expiration: Type.Integer({
      minimum: 60,
      default: 3600,
      description: 'Seconds a token is valid ([token] expiration).',
    }),
    allow_expired_window: Type.Integer({
      minimum: 0,
      default: 172800,
      description: 'Seconds past expiry a service may still validate a token with allow_expired.',
    }),
    password_hash_rounds: Type.Integer({
      minimum: 4,
      maximum: 31,
      default: 12,
      description: 'bcrypt cost factor for new password hashes.',
    }),
    lockout_failure_attempts: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'Failed logins in a row that lock a user out; 0 turns lockout off.',
    }),
    lockout_duration: Type.Integer({
      minimum: 1,
      default: 1800,
      description: 'Seconds a locked-out user stays locked.',
    }),
    password_min_length: Type.Integer({
      minimum: 1,
      maximum: 4096,
      default: 1,
      description: 'Fewest characters a new password may have.',
    }),
    password_regex: Type.Optional(
      Type.String({ minLength: 1, description: 'Regular expression new passwords must match.' }),
    ),
    password_regex_description: Type.Optional(
      Type.String({ minLength: 1, description: 'What password_regex requires, in words.' }),
    ),
    unique_last_password_count: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'How many previous passwords a user may not reuse (0: no rule).',
    }),
    admin_password: Type.String({
      minLength: 1,
      default: 'admin',
      description: "Password bootstrap gives the 'admin' user when it creates it.",
    }),
    service_password: Type.String({
      minLength: 1,
      default: 'service',
      description: 'Password bootstrap gives each service user when it creates it.',
    }),
    region: Type.String({
      minLength: 1,
      default: 'RegionOne',
      description: 'Region bootstrap registers the endpoints in.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export type IdentityConfig = Static<typeof IdentityConfigSchema>;
