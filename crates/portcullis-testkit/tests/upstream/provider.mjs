// A real, independent OpenID Provider for the upstream sign-in tests: panva's certified
// `oidc-provider` (npm, pinned, installed under target/ by .ci/run), with its own login and
// consent pages (its development interactions: any login, any password).
//
// Usage: node provider.mjs <port> <client_id> <client_secret> <redirect_uri>
// Accounts: the login typed is the subject; `<name>@verified.test` logins are verified
// addresses, any other login's address is `<login>@example.com`, unverified.
// Prints `ready` once listening.
import { createRequire } from 'node:module';
import path from 'node:path';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const root = process.env.OIDC_PROVIDER_DIR;
const { default: Provider } = await import(
  path.join(root, 'node_modules', 'oidc-provider', 'lib', 'index.js')
);

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name'],
  },
  async findAccount(ctx, id) {
    const verified = id.endsWith('@verified.test');
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: verified ? id : `${id}@example.com`,
          email_verified: verified,
          given_name: 'Upstream',
          family_name: 'User',
        };
      },
    };
  },
  cookies: { keys: ['portcullis-test-cookie-key'] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => {
  console.log('ready');
});
void require;
