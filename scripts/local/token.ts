import { importPKCS8, SignJWT } from 'jose';
import type { LocalJwtConfig } from './generate';
import { ROUTE_SCOPES } from '../../shared/auth/scopes';

/** Every scope a route uses: derived from the route table, so a new route's scope is minted too. */
export const DEV_TOKEN_SCOPE = [...new Set(Object.values(ROUTE_SCOPES))].join(' ');

export interface DevTokenOptions {
  /** Space-separated scopes. Default: every scope of the API. */
  scope?: string;
  /** `sub` claim. Default `local-developer`. */
  subject?: string;
  /** jose time span or seconds. Default 12 h. */
  expiresIn?: string | number;
}

/** Signs a dev bearer token (ES256) with the key of `.local/jwt.json`. */
export async function mintDevToken(jwt: LocalJwtConfig, options: DevTokenOptions = {}): Promise<string> {
  const key = await importPKCS8(jwt.privateKeyPem, jwt.alg);
  const expiresIn = options.expiresIn ?? '12h';
  return new SignJWT({ scope: options.scope ?? DEV_TOKEN_SCOPE })
    .setProtectedHeader({ alg: jwt.alg, kid: jwt.kid, typ: 'JWT' })
    .setIssuer(jwt.issuer)
    .setAudience(jwt.audience)
    .setSubject(options.subject ?? 'local-developer')
    .setIssuedAt()
    .setExpirationTime(typeof expiresIn === 'number' ? `${expiresIn}s` : expiresIn)
    .sign(key);
}
