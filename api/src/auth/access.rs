//! Short-lived access tokens for readers that cannot send a header: a
//! browser's `EventSource` (the `/live` page) can only put a token in the
//! URL, where a bearer token must never go (URLs end up in logs and
//! browser history). A client with a bearer token asks for one
//! (`POST /api/access-tokens`) and passes it as `?access_token=` to the
//! event streams only.
//!
//! The token is `base64url(expiry ‖ sha256 of the bearer token ‖ narrowed
//! domain ‖ HMAC-SHA256 of those)`, keyed by a secret made at start: it
//! grants exactly what its bearer token grants (looked up again when it is
//! used, so a removed token's access tokens stop working), for a minute,
//! until the node restarts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use facerec_storage::DomainCode;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long an access token may be used to open a stream (an open stream
/// stays open).
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(60);

const MAC_LEN: usize = 32;

pub struct AccessTokens {
    key: [u8; 32],
}

/// What a valid access token stands for.
#[derive(Debug, PartialEq)]
pub struct Grant {
    pub token_hash: [u8; 32],
    pub narrowed: Option<DomainCode>,
}

impl Default for AccessTokens {
    fn default() -> Self {
        Self {
            key: rand::random(),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl AccessTokens {
    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length")
    }

    pub fn mint(&self, token_hash: [u8; 32], narrowed: Option<&DomainCode>) -> String {
        self.mint_expiring(
            token_hash,
            narrowed,
            unix_now() + ACCESS_TOKEN_TTL.as_secs(),
        )
    }

    fn mint_expiring(
        &self,
        token_hash: [u8; 32],
        narrowed: Option<&DomainCode>,
        expires: u64,
    ) -> String {
        let mut body = expires.to_be_bytes().to_vec();
        body.extend_from_slice(&token_hash);
        body.extend_from_slice(narrowed.map_or("", |d| d.as_str()).as_bytes());
        let mut mac = self.mac();
        mac.update(&body);
        body.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(body)
    }

    /// The grant of a valid, unexpired token; otherwise why not.
    pub fn verify(&self, token: &str) -> Result<Grant, &'static str> {
        let raw = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| "the access token is malformed")?;
        if raw.len() < 8 + 32 + MAC_LEN {
            return Err("the access token is malformed");
        }
        let (body, tag) = raw.split_at(raw.len() - MAC_LEN);
        let mut mac = self.mac();
        mac.update(body);
        // Constant-time comparison.
        mac.verify_slice(tag)
            .map_err(|_| "the access token is not valid (forged, or from before a restart)")?;
        let expires = u64::from_be_bytes(body[..8].try_into().expect("8 bytes"));
        if unix_now() > expires {
            return Err("the access token has expired: ask for a new one");
        }
        let token_hash: [u8; 32] = body[8..40].try_into().expect("32 bytes");
        let narrowed = match std::str::from_utf8(&body[40..]) {
            Ok("") => None,
            Ok(code) => Some(DomainCode::parse(code).map_err(|_| "the access token is malformed")?),
            Err(_) => return Err("the access token is malformed"),
        };
        Ok(Grant {
            token_hash,
            narrowed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_until_it_expires_and_never_when_altered() {
        let tokens = AccessTokens::default();
        let serbia = DomainCode::parse("serbia").unwrap();
        let t = tokens.mint([7; 32], Some(&serbia));
        assert_eq!(
            tokens.verify(&t),
            Ok(Grant {
                token_hash: [7; 32],
                narrowed: Some(serbia.clone())
            })
        );
        // One changed byte anywhere.
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        raw[10] ^= 1;
        assert!(
            tokens
                .verify(&URL_SAFE_NO_PAD.encode(&raw))
                .unwrap_err()
                .contains("not valid")
        );
        // Another node (or this one after a restart) made it.
        assert!(AccessTokens::default().verify(&t).is_err());
        let old = tokens.mint_expiring([7; 32], None, unix_now() - 1);
        assert!(tokens.verify(&old).unwrap_err().contains("expired"));
        assert!(
            tokens
                .verify("not-a-token")
                .unwrap_err()
                .contains("malformed")
        );
        assert!(tokens.verify("").is_err());
    }
}
