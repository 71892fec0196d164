//! TLS to Redis ([`RedisTls`]): the CA file and the optional client certificate and key that a
//! `rediss://` URL is connected with, read and checked once when the configuration is read, so
//! that a wrong file is named before any connection is tried. The worker's flags and the CLI's
//! global options both build one from the same three files ([`TlsFiles`]).
//!
//! Without a CA file a `rediss://` URL trusts the system's roots (a managed Redis with a
//! public certificate); with one it trusts that CA only (a Redis with its own CA, as in
//! `deploy/redis.conf`).

use std::path::{Path, PathBuf};

use redis::{ClientTlsConfig, TlsCertificates};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The files a `rediss://` connection is made with, as the operator named them.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// The CA certificates (PEM) that Redis's certificate must be signed by.
    pub ca_file: Option<PathBuf>,
    /// This client's certificate chain (PEM), for a Redis with `tls-auth-clients yes`.
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// Why the TLS files cannot be used; each names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read the Redis {what} {path:?} ({source}): check the path and its permissions")]
    Unreadable {
        /// Which file: `CA file`, `client certificate`, `client key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error reading it.
        #[source]
        source: std::io::Error,
    },
    /// A file is not the PEM it should be.
    #[error("the Redis {what} {path:?} is not valid: {detail}")]
    BadPem {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong, with the fix.
        detail: String,
    },
    /// A client certificate without its key, or a key without its certificate.
    #[error(
        "--redis-client-cert and --redis-client-key go together: give both (a Redis with `tls-auth-clients yes` asks for them) or neither"
    )]
    HalfClientIdentity,
}

/// What a `rediss://` connection trusts and presents; empty for the system's roots and no
/// client certificate. Cheap to clone.
#[derive(Clone, Default)]
pub struct RedisTls {
    certificates: Option<TlsCertificates>,
    /// The CA file, named in a refusal of Redis's certificate.
    ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for RedisTls {
    // The key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTls")
            .field("ca_file", &self.ca_file)
            .field("configured", &self.certificates.is_some())
            .finish()
    }
}

impl RedisTls {
    /// Reads and checks the files: each must be readable PEM holding what it should.
    pub fn load(files: &TlsFiles) -> Result<RedisTls, TlsError> {
        let root_cert = match &files.ca_file {
            Some(path) => Some(certificates(path, "CA file")?),
            None => None,
        };
        let client_tls = match (&files.client_cert, &files.client_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: certificates(cert, "client certificate")?,
                client_key: private_key(key)?,
            }),
            _ => return Err(TlsError::HalfClientIdentity),
        };
        let certificates =
            (root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates {
                client_tls,
                root_cert,
            });
        Ok(RedisTls {
            certificates,
            ca_file: files.ca_file.clone(),
        })
    }

    /// Whether any file was given: then the URL must be `rediss://`.
    pub fn is_configured(&self) -> bool {
        self.certificates.is_some()
    }

    /// The certificates for the `redis` crate's `Client::build_with_tls`.
    pub(crate) fn certificates(&self) -> Option<&TlsCertificates> {
        self.certificates.as_ref()
    }

    /// What to do when Redis's certificate was refused.
    pub(crate) fn untrusted_hint(&self) -> String {
        match &self.ca_file {
            Some(path) => format!(
                "Redis's certificate is not signed by the CA in --redis-ca-file {path:?}, or does not name the URL's host: give the CA that signed Redis's tls-cert-file, and a host its certificate names"
            ),
            None => "Redis's certificate is not trusted by this system's roots, or does not name the URL's host: give the CA that signed it with --redis-ca-file".to_string(),
        }
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Unreadable {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// A file of one or more PEM certificates, checked to hold at least one.
fn certificates(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    let pem = read(path, what)?;
    let bad = |detail: String| TlsError::BadPem {
        what,
        path: path.to_path_buf(),
        detail,
    };
    let found = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            bad(format!(
                "{e}: expected PEM certificates (-----BEGIN CERTIFICATE-----)"
            ))
        })?;
    if found.is_empty() {
        return Err(bad(
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the certificate file, not the key or a DER file".into(),
        ));
    }
    Ok(pem)
}

/// A file holding a PEM private key (PKCS#8, PKCS#1 or SEC1).
fn private_key(path: &Path) -> Result<Vec<u8>, TlsError> {
    let what = "client key";
    let pem = read(path, what)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::BadPem {
        what,
        path: path.to_path_buf(),
        detail: format!(
            "{e}: expected an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)"
        ),
    })?;
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn bad_files_are_named_with_the_fix() {
        let dir = std::env::temp_dir().join(format!("wacast-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let not_pem = write(&dir, "notpem.pem", "hello");
        let key_only = write(
            &dir,
            "key.pem",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        );
        for (files, says) in [
            (
                TlsFiles {
                    ca_file: Some(missing.clone()),
                    ..TlsFiles::default()
                },
                "cannot read the Redis CA file",
            ),
            (
                TlsFiles {
                    ca_file: Some(not_pem.clone()),
                    ..TlsFiles::default()
                },
                "holds no PEM certificate",
            ),
            (
                TlsFiles {
                    ca_file: Some(key_only.clone()),
                    ..TlsFiles::default()
                },
                "holds no PEM certificate",
            ),
            (
                TlsFiles {
                    client_cert: Some(not_pem.clone()),
                    ..TlsFiles::default()
                },
                "go together",
            ),
        ] {
            let error = RedisTls::load(&files).unwrap_err().to_string();
            assert!(error.contains(says), "{error}");
        }
        assert!(
            !RedisTls::load(&TlsFiles::default())
                .unwrap()
                .is_configured()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
