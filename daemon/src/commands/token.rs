use std::io::Read;

use anyhow::{Context, bail};

use crate::cli::TokenCommand;
use facerec_api::auth::{TokenConfig, generate_token, hash_token};

pub fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::New {
            name,
            domains,
            admin,
        } => {
            let token = generate_token();
            let entry = TokenConfig {
                name,
                sha256: hex::encode(hash_token(&token)),
                domains: if admin { vec!["*".into()] } else { domains },
                admin,
            };
            entry.validate()?;
            println!("token: {token}");
            println!();
            println!("Give the token to the client; only its hash goes in the config file:");
            println!();
            #[derive(serde::Serialize)]
            struct Snippet<'a> {
                tokens: [&'a TokenConfig; 1],
            }
            print!("{}", toml::to_string(&Snippet { tokens: [&entry] })?);
            Ok(())
        }
        TokenCommand::Hash { token } => {
            let token = match token {
                Some(t) => t,
                None => {
                    let mut buf = String::new();
                    std::io::stdin()
                        .read_to_string(&mut buf)
                        .context("cannot read the token from stdin")?;
                    buf
                }
            };
            let token = token.trim();
            if token.is_empty() {
                bail!("no token given (pass it as an argument or on stdin)");
            }
            println!("{}", hex::encode(hash_token(token)));
            Ok(())
        }
    }
}
