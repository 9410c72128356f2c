//! Session tokens: random secrets that bind a socket connection to an agent identity.
//!
//! The supervisor issues a token when it spawns a session (passed as `GASTOWN_TOKEN`) and revokes
//! it when the identity's next session starts. A token is a cross-check: a peer inside a session
//! is that session's agent whatever it shows (`super::sessions`). Outside every session a
//! connection that presents no token is the overseer, a valid token its agent, and an unknown or
//! revoked token is refused. Revoked tokens are remembered so the refusal
//! can say "revoked" (a session outliving its supervisor's view of it) rather than "unknown".

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard};

use super::wire::Identity;

/// Bytes of randomness in a token (rendered as twice as many hex digits).
pub const TOKEN_BYTES: usize = 32;

/// A session secret. `Debug` redacts it; use [`Token::expose`] to hand it to a session.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(
    /// 64 lowercase hex digits.
    String,
);

impl Token {
    /// The secret, for the session's environment (`GASTOWN_TOKEN`).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// What a presented token resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenLookup {
    /// A live token and the identity it binds.
    Valid(Identity),
    /// A token that was issued and later revoked.
    Revoked,
    /// Not a token this registry issued.
    Unknown,
}

/// One issued token's state.
#[derive(Debug)]
struct Entry {
    /// Who the token stands for.
    identity: Identity,
    /// Set by [`TokenRegistry::revoke`]; kept so refusals can say "revoked".
    revoked: bool,
}

/// The supervisor's tokens; cheap to clone (all clones share one table).
#[derive(Debug, Clone, Default)]
pub struct TokenRegistry {
    /// Token secret → entry. A std mutex: every critical section is a map operation.
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl TokenRegistry {
    /// An empty registry.
    pub fn new() -> TokenRegistry {
        TokenRegistry::default()
    }

    /// Issues a fresh random token bound to `identity`.
    pub fn issue(&self, identity: Identity) -> io::Result<Token> {
        let secret = random_hex(TOKEN_BYTES)?;
        let entry = Entry {
            identity,
            revoked: false,
        };
        self.lock().insert(secret.clone(), entry);
        Ok(Token(secret))
    }

    /// Revokes a token; returns whether it was live.
    #[cfg(test)]
    pub fn revoke(&self, token: &Token) -> bool {
        match self.lock().get_mut(token.expose()) {
            Some(entry) if !entry.revoked => {
                entry.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// Revokes every live token bound to an agent address; returns how many.
    pub fn revoke_address(&self, address: &str) -> usize {
        let mut revoked = 0;
        for entry in self.lock().values_mut() {
            let matches =
                matches!(&entry.identity, Identity::Agent { address: a, .. } if a == address);
            if matches && !entry.revoked {
                entry.revoked = true;
                revoked += 1;
            }
        }
        revoked
    }

    /// Resolves a presented secret.
    pub fn lookup(&self, secret: &str) -> TokenLookup {
        match self.lock().get(secret) {
            Some(entry) if entry.revoked => TokenLookup::Revoked,
            Some(entry) => TokenLookup::Valid(entry.identity.clone()),
            None => TokenLookup::Unknown,
        }
    }

    /// Locks the table; a poisoned lock is still a consistent map (no operation panics midway).
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `bytes` random bytes from the kernel, as lowercase hex.
pub fn random_hex(bytes: usize) -> io::Result<String> {
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buffer)?;
    Ok(buffer.iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(address: &str) -> Identity {
        Identity::Agent {
            address: address.to_string(),
            role: "polecat".to_string(),
            rig: Some("myrig".to_string()),
        }
    }

    #[test]
    fn issued_tokens_are_distinct_hex_secrets() {
        let registry = TokenRegistry::new();
        let a = registry
            .issue(agent("myrig/polecats/a"))
            .expect("urandom readable");
        let b = registry
            .issue(agent("myrig/polecats/a"))
            .expect("urandom readable");
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 2 * TOKEN_BYTES);
        assert!(
            a.expose()
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(format!("{a:?}"), "Token(<redacted>)");
    }

    #[test]
    fn lookup_follows_issue_and_revoke() {
        let registry = TokenRegistry::new();
        let token = registry
            .issue(agent("myrig/polecats/nux"))
            .expect("urandom readable");
        assert_eq!(
            registry.lookup(token.expose()),
            TokenLookup::Valid(agent("myrig/polecats/nux"))
        );
        assert_eq!(registry.lookup("not-a-token"), TokenLookup::Unknown);
        assert!(registry.revoke(&token));
        assert!(!registry.revoke(&token), "second revoke is a no-op");
        assert_eq!(registry.lookup(token.expose()), TokenLookup::Revoked);
    }

    #[test]
    fn revoke_address_revokes_only_that_agent() {
        let registry = TokenRegistry::new();
        let nux = registry
            .issue(agent("myrig/polecats/nux"))
            .expect("urandom readable");
        let old = registry
            .issue(agent("myrig/polecats/nux"))
            .expect("urandom readable");
        let other = registry
            .issue(agent("myrig/polecats/max"))
            .expect("urandom readable");
        assert_eq!(registry.revoke_address("myrig/polecats/nux"), 2);
        assert_eq!(registry.lookup(nux.expose()), TokenLookup::Revoked);
        assert_eq!(registry.lookup(old.expose()), TokenLookup::Revoked);
        assert!(matches!(
            registry.lookup(other.expose()),
            TokenLookup::Valid(_)
        ));
    }
}
