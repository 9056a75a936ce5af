//! Who is calling, and which domains they may see.
//!
//! Clients present a bearer token. The config stores only each token's
//! sha256, mapped to the domains it may use (or `*`) and whether it may manage
//! the registry (`admin`). A request may then *narrow* — never widen — its
//! domain with the `X-Client-Domain` header or the subdomain of `Host`
//! (`serbia.facerec.example.com`). See [`client::Client`]. Event streams
//! also take a short-lived [`access`] token in the URL.

pub mod access;
mod bootstrap;
mod client;
mod tokens;

pub use bootstrap::ensure_bootstrap_admin;
pub use client::{CLIENT_DOMAIN_HEADER, Client, StreamClient};
pub use tokens::{TokenConfig, TokenEntry, TokenScope, TokenTable, generate_token, hash_token};
