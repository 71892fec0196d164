//! The Redis URL both binaries connect with, which may hold a password: from `--redis-url` (or
//! `WACAST_REDIS_URL`), else the file named by `--redis-url-file` (or
//! `WACAST_REDIS_URL_FILE`), else the systemd credential `redis-url` (`LoadCredential=`, read
//! from `$CREDENTIALS_DIRECTORY`), else Redis on this host. A file or a credential keeps the
//! password out of the environment and the command line, where `ps`, `/proc/PID/environ` and
//! crash reports show it. This module reads the environment and files; messages name the file,
//! never its contents (show the URL with [`redact_url`](crate::redact::redact_url)).

use std::path::{Path, PathBuf};

use crate::secret::CREDENTIALS_DIRECTORY;

/// Where the URL points when nothing names one: the Redis of this host.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The systemd credential holding the URL.
pub const CREDENTIAL: &str = "redis-url";

/// Why the URL could not be found.
#[derive(Debug, thiserror::Error)]
pub enum RedisUrlError {
    /// Two sources name a URL: which one was meant is unclear.
    #[error("the Redis URL is given twice, by {first} and by {second}: keep one")]
    Twice {
        /// The source that wins otherwise, e.g. `--redis-url (WACAST_REDIS_URL)`.
        first: &'static str,
        /// The other.
        second: String,
    },
    /// The file could not be read.
    #[error("failed to read the Redis URL from {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file named on purpose holds no URL.
    #[error("the Redis URL file {} is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The URL from `url` (the flag or its variable), else `file`, else the systemd credential,
/// else [`DEFAULT_REDIS_URL`]. Two of the first three at once are refused, so that a URL left
/// in an environment file cannot silently override the credential meant to replace it. A file
/// must hold a URL (its first line, trimmed); an empty credential counts as none, as the unit's
/// `SetCredential=` default is for a host that names its Redis another way.
pub fn resolve(url: Option<&str>, file: Option<&Path>) -> Result<String, RedisUrlError> {
    let url = url.map(str::trim).filter(|u| !u.is_empty());
    let credential = credential()?;
    const FLAG: &str = "--redis-url (WACAST_REDIS_URL)";
    const FILE: &str = "--redis-url-file (WACAST_REDIS_URL_FILE)";
    let credential_name = || format!("the systemd credential {CREDENTIAL}");
    match (url, file, credential) {
        (Some(_), Some(_), _) => Err(RedisUrlError::Twice {
            first: FLAG,
            second: FILE.to_string(),
        }),
        (Some(_), None, Some(_)) => Err(RedisUrlError::Twice {
            first: FLAG,
            second: credential_name(),
        }),
        (None, Some(_), Some(_)) => Err(RedisUrlError::Twice {
            first: FILE,
            second: credential_name(),
        }),
        (Some(url), None, None) => Ok(url.to_string()),
        (None, Some(path), None) => {
            let url = read(path)?;
            if url.is_empty() {
                return Err(RedisUrlError::Empty {
                    path: path.to_path_buf(),
                });
            }
            Ok(url)
        }
        (None, None, Some(url)) => Ok(url),
        (None, None, None) => Ok(DEFAULT_REDIS_URL.to_string()),
    }
}

/// The URL of the systemd credential `redis-url`, if the process has a non-empty one.
pub fn credential() -> Result<Option<String>, RedisUrlError> {
    let Some(dir) = std::env::var_os(CREDENTIALS_DIRECTORY) else {
        return Ok(None);
    };
    let path = PathBuf::from(dir).join(CREDENTIAL);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(read(&path)?).filter(|u| !u.is_empty()))
}

/// The file's first line, trimmed.
fn read(path: &Path) -> Result<String, RedisUrlError> {
    let text = std::fs::read_to_string(path).map_err(|source| RedisUrlError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_comes_from_the_flag_or_a_file_and_never_from_both() {
        let dir = std::env::temp_dir().join(format!("wacast-url-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("redis-url");
        std::fs::write(&file, "redis://:s3cret@db:6379/0\n").unwrap();
        assert_eq!(
            resolve(None, Some(&file)).unwrap(),
            "redis://:s3cret@db:6379/0"
        );
        assert_eq!(resolve(Some("redis://a"), None).unwrap(), "redis://a");
        let twice = resolve(Some("redis://a"), Some(&file)).unwrap_err();
        assert!(twice.to_string().contains("given twice"), "{twice}");
        std::fs::write(&file, "\n").unwrap();
        let empty = resolve(None, Some(&file)).unwrap_err().to_string();
        assert!(
            empty.contains("is empty") && !empty.contains("s3cret"),
            "{empty}"
        );
        let missing = resolve(None, Some(&dir.join("nope"))).unwrap_err();
        assert!(missing.to_string().contains("failed to read the Redis URL"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
