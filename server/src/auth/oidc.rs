//! Login through an OpenID Connect provider: authorization code flow with PKCE (S256), state and
//! nonce, the ID token verified by `openidconnect`. The user ID is the `sub` claim; names and groups
//! come from the ID token's claims at every login.

use anyhow::{anyhow, Context};
use backend::config::OidcConfig;
use backend::identity::{Identity, IdentitySource};
use backend::secret::ExposeSecret;
use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use tokio::sync::OnceCell;

/// The provider, discovered on first use (so the portal starts even while the IdP is down).
pub struct OidcProvider {
    config: OidcConfig,
    redirect_url: RedirectUrl,
    http: openidconnect::reqwest::Client,
    metadata: OnceCell<CoreProviderMetadata>,
}

/// Where to send the browser, and what the callback must remember.
pub struct LoginStart {
    /// The IdP's authorization URL.
    pub authorize_url: String,
    /// OAuth state (also the key of the stored login).
    pub state: String,
    /// Nonce expected in the ID token.
    pub nonce: String,
    /// PKCE verifier for the token request.
    pub pkce_verifier: String,
}

impl OidcProvider {
    /// A provider for `config`, redirecting back to `<base_url>/auth/callback`.
    pub fn new(config: OidcConfig, base_url: &str) -> anyhow::Result<OidcProvider> {
        let redirect_url = RedirectUrl::new(format!("{base_url}/auth/callback"))
            .context("the OIDC redirect URL built from base_url is not a URL")?;
        // The token and discovery requests must never follow redirects (SSRF, and the spec says so).
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .context("building the HTTP client for OIDC")?;
        Ok(OidcProvider {
            config,
            redirect_url,
            http,
            metadata: OnceCell::new(),
        })
    }

    async fn client(
        &self,
    ) -> anyhow::Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
    > {
        let metadata = self
            .metadata
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.config.issuer.clone())
                    .context("oidc.issuer is not a URL")?;
                CoreProviderMetadata::discover_async(issuer, &self.http)
                    .await
                    .map_err(|e| anyhow!("OIDC discovery at {} failed: {e}", self.config.issuer))
            })
            .await?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose_secret().to_string(),
            )),
        )
        .set_redirect_uri(self.redirect_url.clone()))
    }

    /// Starts a login: the URL to redirect to, with fresh state, nonce and PKCE challenge.
    pub async fn start(&self) -> anyhow::Result<LoginStart> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(LoginStart {
            authorize_url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a login: exchanges the code, verifies the ID token (signature, issuer, audience,
    /// expiry, nonce) and reads the identity from its claims.
    pub async fn finish(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> anyhow::Result<Identity> {
        let client = self.client().await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .context("the IdP has no token endpoint")?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| anyhow!("the IdP refused the authorization code: {e}"))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| anyhow!("the IdP sent no ID token"))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_string()))
            .map_err(|e| anyhow!("the ID token did not verify: {e}"))?;
        let given_name = claims
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string())
            .unwrap_or_default();
        let family_name = claims
            .family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string())
            .unwrap_or_default();
        // The token verified above is the one whose payload we read the groups claim from; its name is
        // configurable, which the typed claims of `openidconnect` cannot express.
        let groups = groups_from_jwt(&id_token.to_string(), &self.config.groups_claim)?;
        // The user ID is `sub` unless set otherwise (Entra ID's `sub` differs per application,
        // so SCIM provisioning cannot send it; its `oid` can be: README, "Connecting an IdM").
        let user_id = match self.config.user_id_claim.as_str() {
            "sub" => claims.subject().to_string(),
            claim => string_claim_from_jwt(&id_token.to_string(), claim)?.ok_or_else(|| {
                anyhow!("the ID token has no {claim} claim, which oidc.user_id_claim names")
            })?,
        };
        Ok(Identity {
            user_id,
            given_name,
            family_name,
            email: claims.email().map(|e| e.to_string()),
            groups,
            source: IdentitySource::Oidc,
        })
    }
}

/// A JWT's payload (its signature was verified before).
fn jwt_payload(jwt: &str) -> anyhow::Result<serde_json::Value> {
    let payload = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow!("the ID token is not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .context("the ID token payload is not base64url")?;
    serde_json::from_slice(&bytes).context("the ID token payload is not JSON")
}

/// A non-empty string claim of a JWT's payload, if it has one.
fn string_claim_from_jwt(jwt: &str, claim: &str) -> anyhow::Result<Option<String>> {
    Ok(jwt_payload(jwt)?
        .get(claim)
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_owned))
}

/// Reads a groups claim (array of strings, or one string) from a JWT's payload.
fn groups_from_jwt(jwt: &str, claim: &str) -> anyhow::Result<Vec<String>> {
    let json = jwt_payload(jwt)?;
    Ok(match json.get(claim) {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt_with(payload: serde_json::Value) -> String {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            enc.encode(br#"{"alg":"RS256"}"#),
            enc.encode(payload.to_string())
        )
    }

    #[test]
    fn r22_the_user_id_claim_is_read_by_its_configured_name() {
        let jwt =
            jwt_with(serde_json::json!({"sub": "pairwise", "oid": "0b5e-11", "n": 5, "e": ""}));
        assert_eq!(
            string_claim_from_jwt(&jwt, "oid").unwrap().as_deref(),
            Some("0b5e-11")
        );
        assert_eq!(string_claim_from_jwt(&jwt, "n").unwrap(), None);
        assert_eq!(string_claim_from_jwt(&jwt, "e").unwrap(), None);
        assert_eq!(string_claim_from_jwt(&jwt, "missing").unwrap(), None);
    }

    #[test]
    fn groups_claim_is_read_by_its_configured_name() {
        let jwt = jwt_with(serde_json::json!({"sub": "x", "groups": ["a", "b"], "roles": "ops"}));
        assert_eq!(groups_from_jwt(&jwt, "groups").unwrap(), ["a", "b"]);
        assert_eq!(groups_from_jwt(&jwt, "roles").unwrap(), ["ops"]);
        assert!(groups_from_jwt(&jwt, "missing").unwrap().is_empty());
        assert!(groups_from_jwt("garbage", "groups").is_err());
    }
}
