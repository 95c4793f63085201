// The server's settings for sign-in through the enterprise's identity provider, read from the
// `aifactory-sign-in` meta tag `factory serve` puts in index.html when it has a console client id
// (none of it is secret). Small on purpose: the OAuth client itself (oidc-sign-in.ts) is loaded
// only when someone signs in that way.

/** The server's sign-in settings, from the `aifactory-sign-in` meta tag of index.html (absent: tokens only). */
export interface ProviderSignIn {
  issuer: string;
  clientId: string;
  scope: string;
  resource: string;
}

/** What comes back from the provider: the access token and when it expires. */
export interface ProviderTokens {
  accessToken: string;
  /** Epoch ms, when the provider said (expires_in). */
  expiresAt?: number;
}

/** The path the provider sends the browser back to (register `<server>/sign-in/callback` as the client's redirect URI). */
export const callbackPath = '/sign-in/callback';

/** The sign-in settings the server put in the page, if any. */
export function providerSignIn(): ProviderSignIn | null {
  const content = document.querySelector('meta[name="aifactory-sign-in"]')?.getAttribute('content');
  if (!content) return null;
  try {
    const value = JSON.parse(content) as Partial<ProviderSignIn>;
    return typeof value.issuer === 'string' && typeof value.clientId === 'string' && typeof value.resource === 'string'
      ? {
          issuer: value.issuer,
          clientId: value.clientId,
          scope: typeof value.scope === 'string' ? value.scope : 'openid',
          resource: value.resource,
        }
      : null;
  } catch {
    return null;
  }
}

/** The provider's name for the button: its host. */
export function providerName(settings: ProviderSignIn): string {
  return new URL(settings.issuer).host;
}
