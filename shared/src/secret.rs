//! The one way a provider key is loaded, by the worker and the CLI alike: its environment
//! variable, else the key file named by a flag, else the systemd credential (`LoadCredential=`).
//! This module reads the environment and files; the key never leaves a `SecretString`.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

/// Set by systemd for units with `LoadCredential=`: the folder holding the credentials.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// seven's API key: `SEVEN_API_KEY`, a key file, or the credential `seven-api-key`.
pub const SEVEN_API_KEY: KeySource = KeySource {
    what: "seven API key",
    env: "SEVEN_API_KEY",
    credential: Some("seven-api-key"),
};

/// Bird's access key: `BIRD_ACCESS_KEY`, a key file, or the credential `bird-access-key`.
pub const BIRD_ACCESS_KEY: KeySource = KeySource {
    what: "Bird access key",
    env: "BIRD_ACCESS_KEY",
    credential: Some("bird-access-key"),
};

/// Where one key comes from.
#[derive(Debug, Clone, Copy)]
pub struct KeySource {
    /// For messages: `seven API key`.
    pub what: &'static str,
    /// The environment variable that holds the key itself.
    pub env: &'static str,
    /// The systemd credential's name, if a unit may pass the key that way.
    pub credential: Option<&'static str>,
}

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("failed to read the {what} from {}", path.display())]
    Read {
        /// Which key.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key file named on purpose holds no key.
    #[error("the {what} file {} is empty", path.display())]
    Empty {
        /// Which key.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
}

impl KeySource {
    /// The key from its environment variable, else the key file given, else the systemd
    /// credential; `None` when none holds one. A key file named on purpose must hold a key; a
    /// credential may be empty, as the unit's `SetCredential=` default for a provider this
    /// host does not use is.
    pub fn read(&self, file: Option<&Path>) -> Result<Option<SecretString>, KeyError> {
        if let Ok(key) = std::env::var(self.env)
            && !key.trim().is_empty()
        {
            return Ok(Some(SecretString::from(key.trim().to_string())));
        }
        if let Some(path) = file {
            let key = self.read_file(path)?;
            if key.is_empty() {
                return Err(KeyError::Empty {
                    what: self.what,
                    path: path.to_path_buf(),
                });
            }
            return Ok(Some(SecretString::from(key)));
        }
        let (Some(credential), Some(dir)) =
            (self.credential, std::env::var_os(CREDENTIALS_DIRECTORY))
        else {
            return Ok(None);
        };
        let path = PathBuf::from(dir).join(credential);
        if !path.exists() {
            return Ok(None);
        }
        let key = self.read_file(&path)?;
        Ok((!key.is_empty()).then(|| SecretString::from(key)))
    }

    /// A key file's one line, trimmed.
    fn read_file(&self, path: &Path) -> Result<String, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            what: self.what,
            path: path.to_path_buf(),
            source,
        })?;
        Ok(text.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::error_chain::error_chain;

    #[test]
    fn a_key_file_is_read_trimmed_and_an_empty_one_is_refused() {
        // A variable no test environment sets, so that only the file counts.
        let source = KeySource {
            what: "test key",
            env: "WACAST_TEST_KEY_THAT_IS_NEVER_SET",
            credential: Some("test-key"),
        };
        let dir = std::env::temp_dir().join(format!("wacast-key-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        std::fs::write(&file, "ak-123\n").unwrap();
        let key = source.read(Some(&file)).unwrap().expect("a key");
        assert_eq!(key.expose_secret(), "ak-123");
        std::fs::write(&file, " \n").unwrap();
        let error = source.read(Some(&file)).unwrap_err().to_string();
        assert!(
            error.contains("test key file") && error.contains("is empty"),
            "{error}"
        );
        let missing = source.read(Some(&dir.join("missing"))).unwrap_err();
        assert!(error_chain(&missing).contains("failed to read the test key"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
