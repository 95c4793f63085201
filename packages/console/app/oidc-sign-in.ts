// Sign-in through the enterprise's identity provider, where the server is configured for it: the
// OAuth 2 authorization code grant with PKCE (RFC 7636) for a public client, through oauth4webapi
// (a maintained, certified OAuth/OIDC client for browsers; hand-written it would be the state,
// PKCE, issuer and ID-token checks that are easy to get subtly wrong). The access token it gives
// is then used exactly as a pasted one: GET /v1/me names the principal and roles from its claims,
// so the console shows what the API would answer, nothing more.
import * as oauth from 'oauth4webapi';
import { callbackPath, type ProviderSignIn, type ProviderTokens } from './sign-in-settings.ts';

const pendingKey = 'aifactory.console.oidc';

// Plain http is allowed to a provider on this machine only (a developer's or a test's); anywhere
// else oauth4webapi refuses it, as it should.
function requestOptions(issuer: URL): { [oauth.allowInsecureRequests]?: boolean } {
  const loopback = issuer.hostname === 'localhost' || issuer.hostname === '127.0.0.1' || issuer.hostname === '[::1]';
  return issuer.protocol === 'http:' && loopback ? { [oauth.allowInsecureRequests]: true } : {};
}

async function discover(settings: ProviderSignIn): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(settings.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions(issuer) }));
}

const redirectUri = () => `${location.origin}${callbackPath}`;

/** Sends the browser to the provider's authorization endpoint; `returnTo` is where to land once signed in. */
export async function beginProviderSignIn(settings: ProviderSignIn, returnTo: string): Promise<never> {
  const server = await discover(settings);
  if (!server.authorization_endpoint) throw new Error(`The identity provider ${settings.issuer} names no authorization endpoint.`);
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  // Kept in this tab only, for the callback: the verifier never leaves the browser until the token request.
  sessionStorage.setItem(pendingKey, JSON.stringify({ codeVerifier, state, returnTo, issuer: settings.issuer }));
  const url = new URL(server.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: settings.clientId,
    redirect_uri: redirectUri(),
    response_type: 'code',
    scope: settings.scope,
    resource: settings.resource,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url);
  return new Promise<never>(() => undefined);
}

/**
 * Completes a sign-in on the callback page: checks the state, exchanges the code (with the PKCE
 * verifier) at the token endpoint, checks the answer (issuer, ID token), and answers the access
 * token and where to go. Throws with the provider's own error when it refused.
 */
export async function completeProviderSignIn(settings: ProviderSignIn, callbackUrl: URL): Promise<ProviderTokens & { returnTo: string }> {
  const pending = JSON.parse(sessionStorage.getItem(pendingKey) ?? 'null') as {
    codeVerifier: string;
    state: string;
    returnTo: string;
    issuer: string;
  } | null;
  sessionStorage.removeItem(pendingKey);
  if (!pending || pending.issuer !== settings.issuer)
    throw new Error('This sign-in was not started from this tab (or was already completed); start it again.');
  const server = await discover(settings);
  const client: oauth.Client = { client_id: settings.clientId };
  let parameters: URLSearchParams;
  try {
    parameters = oauth.validateAuthResponse(server, client, callbackUrl, pending.state);
  } catch (error) {
    throw new Error(`The identity provider refused the sign-in: ${describe(error)}`, { cause: error });
  }
  const response = await oauth.authorizationCodeGrantRequest(
    server,
    client,
    oauth.None(),
    parameters,
    redirectUri(),
    pending.codeVerifier,
    {
      additionalParameters: { resource: settings.resource },
      ...requestOptions(new URL(settings.issuer)),
    },
  );
  let tokens: oauth.TokenEndpointResponse;
  try {
    tokens = await oauth.processAuthorizationCodeResponse(server, client, response);
  } catch (error) {
    throw new Error(`The identity provider's token endpoint refused the code: ${describe(error)}`, { cause: error });
  }
  return {
    accessToken: tokens.access_token,
    ...(typeof tokens.expires_in === 'number' ? { expiresAt: Date.now() + tokens.expires_in * 1000 } : {}),
    returnTo: safeReturn(pending.returnTo),
  };
}

/** The provider's error and description when it gave them, else the message. */
function describe(error: unknown): string {
  if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError)
    return error.error_description ? `${error.error} (${error.error_description})` : error.error;
  return error instanceof Error ? error.message : String(error);
}

/** Only a path of this console (never another origin, never the callback again). */
function safeReturn(path: string): string {
  return path.startsWith('/') && !path.startsWith('//') && !path.startsWith(callbackPath) ? path : '/';
}
