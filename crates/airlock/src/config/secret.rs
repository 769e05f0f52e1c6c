//! Secret references: a configuration file names where a secret lives
//! (`env:NAME` or `file:PATH`), never the secret itself.

use std::path::Path;

use super::EnvLookup;

/// Where a secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(String),
}

impl SecretRef {
    /// Parses `env:NAME` or `file:PATH`; anything else is refused, so a key
    /// pasted into the file is caught rather than used.
    pub fn parse(text: &str) -> Result<SecretRef, String> {
        if let Some(name) = text.strip_prefix("env:") {
            if name.is_empty() {
                return Err("`env:` needs a variable name".into());
            }
            Ok(SecretRef::Env(name.to_string()))
        } else if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err("`file:` needs a path".into());
            }
            Ok(SecretRef::File(path.to_string()))
        } else {
            Err("secrets must be given as `env:NAME` or `file:PATH` references, not inline".into())
        }
    }

    /// Reads the secret (variables through `env`); the error names the
    /// reference, never a value.
    pub fn resolve(&self, env: EnvLookup<'_>) -> Result<String, String> {
        let value = match self {
            SecretRef::Env(name) => {
                env(name).ok_or_else(|| format!("environment variable {name} is not set"))?
            }
            SecretRef::File(path) => std::fs::read_to_string(Path::new(path))
                .map_err(|error| format!("cannot read secret file {path}: {error}"))?,
        };
        let value = value.trim().to_string();
        if value.is_empty() {
            return Err(match self {
                SecretRef::Env(name) => format!("environment variable {name} is empty"),
                SecretRef::File(path) => format!("secret file {path} is empty"),
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_references() {
        assert!(SecretRef::parse("sk-inline").is_err());
        assert!(SecretRef::parse("env:").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "from-file\n").unwrap();
        let reference = SecretRef::parse(&format!("file:{}", path.display())).unwrap();
        let no_env = |_: &str| None;
        assert_eq!(reference.resolve(&no_env).unwrap(), "from-file");
        let variable = SecretRef::parse("env:SOME_VARIABLE").unwrap();
        let unset = variable.resolve(&no_env).unwrap_err();
        assert_eq!(unset, "environment variable SOME_VARIABLE is not set");
        let with_env = |name: &str| (name == "SOME_VARIABLE").then(|| " value ".to_string());
        assert_eq!(variable.resolve(&with_env).unwrap(), "value");
    }
}
