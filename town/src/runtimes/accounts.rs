//! Several accounts of one runtime (issue 20, "rotation"): when one account hits its usage
//! limit, new sessions of the runtime — and the sessions that hit it — go to another account
//! until the limit resets, instead of the whole runtime waiting.
//!
//! ```toml
//! [agents.claude]                          # no command: the preset, with these additions
//! [[agents.claude.accounts]]
//! name = "work"
//! config_dir = "~/.claude-work"            # its own CLAUDE_CONFIG_DIR (a subscription login)
//! [[agents.claude.accounts]]
//! name = "api"
//! api_key_env = "ANTHROPIC_KEY_2"          # ANTHROPIC_API_KEY is taken from $ANTHROPIC_KEY_2
//! env = { ANTHROPIC_BASE_URL = "https://…" } # anything else the account needs
//! ```
//!
//! A limit is recorded per account (`<runtime>/<account>` in `.runtime/limits.json`), a runtime
//! with accounts is limited only when every account is, and each session records the account
//! it ran under in its identity's session history. Choosing is [`choose`]: the account with no
//! limit holding and the fewest running sessions, config order breaking ties.

use super::RuntimeError;
use super::spec::Runtime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[[agents.<name>.accounts]]` in `town.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// How it is called in limits, status and the session history (letters, digits, `-_.`).
    pub name: String,
    /// Its own config dir: the runtime's config-dir variable (`CLAUDE_CONFIG_DIR`,
    /// `CODEX_HOME`) is set to it; `~/` is the supervisor's home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_dir: Option<String>,
    /// The variable of `gastown run`'s environment that holds this account's API key: the
    /// runtime's key variable (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`, `GEMINI_API_KEY`) is set
    /// from it, so no key is written in `town.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Any other environment the account's sessions get.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// One account, resolved against its runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    /// What its sessions get on top of the runtime's environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    /// `(the runtime's key variable, the supervisor variable holding this account's key)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_from: Option<(String, String)>,
}

/// The variables a CLI family reads its config dir and its API key from.
pub(crate) fn family_vars(family: &str) -> (Option<&'static str>, Option<&'static str>) {
    match family {
        "claude" => (Some("CLAUDE_CONFIG_DIR"), Some("ANTHROPIC_API_KEY")),
        "codex" => (Some("CODEX_HOME"), Some("OPENAI_API_KEY")),
        "gemini" => (None, Some("GEMINI_API_KEY")),
        _ => (None, None),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Expand a leading `~/` with `home`.
fn expand_home(path: &str, home: Option<&str>) -> String {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => path.to_string(),
    }
}

/// Resolve the accounts of runtime `name`, whose CLI is of preset `family` (`claude`, `codex`,
/// … or anything else for a CLI gastown knows no variables of). `home` expands `~/`.
pub fn resolve(
    name: &str,
    family: &str,
    configs: &[AccountConfig],
    home: Option<&str>,
) -> Result<Vec<Account>, RuntimeError> {
    let (dir_var, key_var) = family_vars(family);
    let bad = |account: &str, problem: String| RuntimeError::BadAccount {
        name: name.to_string(),
        account: account.to_string(),
        problem,
    };
    let mut accounts: Vec<Account> = Vec::with_capacity(configs.len());
    for cfg in configs {
        if !valid_name(&cfg.name) {
            return Err(bad(
                &cfg.name,
                "has no usable name: give it a `name` of letters, digits, `-`, `_` or `.`"
                    .to_string(),
            ));
        }
        if accounts.iter().any(|a| a.name == cfg.name) {
            return Err(bad(
                &cfg.name,
                "is listed twice: account names must differ".to_string(),
            ));
        }
        let mut env: Vec<(String, String)> = Vec::new();
        if let Some(dir) = &cfg.config_dir {
            let Some(var) = dir_var else {
                return Err(bad(
                    &cfg.name,
                    format!(
                        "sets config_dir, but gastown knows no config-dir variable of a {family} \
                         CLI: set the variable it reads under `env` instead"
                    ),
                ));
            };
            if dir.trim().is_empty() {
                return Err(bad(&cfg.name, "has an empty config_dir".to_string()));
            }
            env.push((var.to_string(), expand_home(dir, home)));
        }
        let key_from = match &cfg.api_key_env {
            Some(source) => {
                let Some(var) = key_var else {
                    return Err(bad(
                        &cfg.name,
                        format!(
                            "sets api_key_env, but gastown knows no API-key variable of a \
                             {family} CLI: set the variable it reads under `env` instead"
                        ),
                    ));
                };
                if source.trim().is_empty() || source.contains('=') {
                    return Err(bad(
                        &cfg.name,
                        format!("has api_key_env {source:?}, which is no variable name"),
                    ));
                }
                Some((var.to_string(), source.clone()))
            }
            None => None,
        };
        for (key, value) in &cfg.env {
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), value.clone()));
        }
        if env.is_empty() && key_from.is_none() {
            return Err(bad(
                &cfg.name,
                "sets nothing (no config_dir, api_key_env or env): it would be the same as \
                 running without accounts"
                    .to_string(),
            ));
        }
        accounts.push(Account {
            name: cfg.name.clone(),
            env,
            key_from,
        });
    }
    Ok(accounts)
}

/// Why an account cannot take a session now.
pub fn unusable(account: &Account, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let (_, source) = account.key_from.as_ref()?;
    match var(source) {
        Some(value) if !value.is_empty() => None,
        _ => Some(format!(
            "account {} takes its API key from ${source}, which is not set in gastown run's \
             environment",
            account.name
        )),
    }
}

impl Runtime {
    /// The key its limits are recorded under: the runtime's name, or `<name>/<account>` for a
    /// session of one of its accounts.
    pub fn limit_key(&self) -> String {
        match &self.account {
            Some(account) => account_key(&self.name, account),
            None => self.name.clone(),
        }
    }

    /// This runtime, run under `account` (one of its accounts): its environment on top, the
    /// key variable filled from `var` (the supervisor's environment).
    pub fn under_account(
        &self,
        account: &Account,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Runtime, String> {
        if let Some(why) = unusable(account, var) {
            return Err(why);
        }
        let mut rt = self.clone();
        let mut extra = account.env.clone();
        if let Some((target, source)) = &account.key_from {
            extra.push((target.clone(), var(source).unwrap_or_default()));
        }
        for (key, value) in extra {
            rt.env.retain(|(k, _)| *k != key);
            rt.env.push((key, value));
        }
        rt.account = Some(account.name.clone());
        Ok(rt)
    }
}

/// The limits key of `account` of `runtime`.
pub fn account_key(runtime: &str, account: &str) -> String {
    format!("{runtime}/{account}")
}

/// The account a new session of `runtime` runs under: of the usable accounts whose limit does
/// not hold (`limited(key)`), the one with the fewest running sessions (`in_use(key)`), the
/// first listed on a tie; when every usable account is limited, the one whose limit ends first.
/// `None` when the runtime has no usable account.
pub fn choose<'a>(
    runtime: &'a Runtime,
    var: &dyn Fn(&str) -> Option<String>,
    limited_until: &dyn Fn(&str) -> Option<u64>,
    in_use: &dyn Fn(&str) -> usize,
) -> Option<&'a Account> {
    let usable: Vec<&Account> = runtime
        .accounts
        .iter()
        .filter(|a| unusable(a, var).is_none())
        .collect();
    let key = |a: &Account| account_key(&runtime.name, &a.name);
    let free = usable
        .iter()
        .filter(|a| limited_until(&key(a)).is_none())
        .min_by_key(|a| in_use(&key(a)));
    free.or_else(|| {
        usable
            .iter()
            .min_by_key(|a| limited_until(&key(a)).unwrap_or(0))
    })
    .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtimes::spec::preset;

    fn cfg(name: &str) -> AccountConfig {
        AccountConfig {
            name: name.to_string(),
            ..AccountConfig::default()
        }
    }

    #[test]
    fn accounts_resolve_to_the_clis_own_variables() {
        let work = AccountConfig {
            config_dir: Some("~/.claude-work".to_string()),
            ..cfg("work")
        };
        let api = AccountConfig {
            api_key_env: Some("KEY_2".to_string()),
            env: BTreeMap::from([("ANTHROPIC_BASE_URL".to_string(), "http://x".to_string())]),
            ..cfg("api")
        };
        let accounts =
            resolve("claude", "claude", &[work, api], Some("/home/u")).expect("resolves");
        assert_eq!(
            accounts[0].env,
            vec![(
                "CLAUDE_CONFIG_DIR".to_string(),
                "/home/u/.claude-work".to_string()
            )]
        );
        assert_eq!(
            accounts[1].key_from,
            Some(("ANTHROPIC_API_KEY".to_string(), "KEY_2".to_string()))
        );
        let codex = AccountConfig {
            config_dir: Some("/c".to_string()),
            ..cfg("c")
        };
        let accounts = resolve("codex", "codex", &[codex], None).expect("resolves");
        assert_eq!(accounts[0].env[0].0, "CODEX_HOME");
    }

    #[test]
    fn bad_accounts_are_refused_saying_what_to_do() {
        let with_env = |name: &str| AccountConfig {
            env: BTreeMap::from([("X".to_string(), "1".to_string())]),
            ..cfg(name)
        };
        let cases: Vec<(&str, Vec<AccountConfig>, &str)> = vec![
            ("claude", vec![with_env("")], "no usable name"),
            ("claude", vec![with_env("a/b")], "no usable name"),
            ("claude", vec![with_env("a"), with_env("a")], "listed twice"),
            ("claude", vec![cfg("a")], "sets nothing"),
            (
                "amp",
                vec![AccountConfig {
                    config_dir: Some("/x".to_string()),
                    ..cfg("a")
                }],
                "under `env` instead",
            ),
            (
                "claude",
                vec![AccountConfig {
                    api_key_env: Some("A=B".to_string()),
                    ..cfg("a")
                }],
                "no variable name",
            ),
        ];
        for (family, configs, expected) in cases {
            let err = resolve("r", family, &configs, None)
                .expect_err("refused")
                .to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.contains("town.toml"), "{err}");
        }
    }

    #[test]
    fn choosing_skips_limited_and_keyless_accounts_and_spreads_the_load() {
        let mut rt = preset("claude").expect("claude");
        rt.accounts = resolve(
            "claude",
            "claude",
            &[
                AccountConfig {
                    api_key_env: Some("KEY_A".to_string()),
                    ..cfg("a")
                },
                AccountConfig {
                    api_key_env: Some("KEY_B".to_string()),
                    ..cfg("b")
                },
                AccountConfig {
                    api_key_env: Some("KEY_C".to_string()),
                    ..cfg("c")
                },
            ],
            None,
        )
        .expect("resolves");
        let var = |name: &str| (name != "KEY_C").then(|| format!("value of {name}"));
        let none_limited = |_: &str| None;
        let idle = |_: &str| 0;
        let pick = |limited: &dyn Fn(&str) -> Option<u64>, in_use: &dyn Fn(&str) -> usize| {
            choose(&rt, &var, limited, in_use).map(|a| a.name.clone())
        };
        assert_eq!(pick(&none_limited, &idle).as_deref(), Some("a"), "first");
        let a_busy = |key: &str| usize::from(key == "claude/a");
        assert_eq!(pick(&none_limited, &a_busy).as_deref(), Some("b"), "spread");
        let a_limited = |key: &str| (key == "claude/a").then_some(100);
        assert_eq!(pick(&a_limited, &idle).as_deref(), Some("b"), "not limited");
        let all = |key: &str| Some(if key == "claude/b" { 50 } else { 100 });
        assert_eq!(pick(&all, &idle).as_deref(), Some("b"), "first reset");
        let session = rt.under_account(&rt.accounts[1], &var).expect("usable");
        assert_eq!(session.limit_key(), "claude/b");
        assert!(session.env.contains(&(
            "ANTHROPIC_API_KEY".to_string(),
            "value of KEY_B".to_string()
        )));
        let err = rt.under_account(&rt.accounts[2], &var).expect_err("no key");
        assert!(err.contains("$KEY_C"), "{err}");
    }
}
