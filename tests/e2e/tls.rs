//! Redis over TLS with least privilege, end to end: a TLS-only `redis-server` (a throwaway CA,
//! server and client certificates made with the openssl CLI) whose only usable user is the
//! ACL line of `deploy/redis.conf`, read from the file, so that the documented line is the one
//! tested. The demo campaign runs as that user over `rediss://`: `wacast enqueue`, a
//! `wacast-worker` sending to the mock gateway, the operator's reading commands. A wrong CA and
//! the default user are refused with errors that say so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::campaign::CampaignId;
use wacast_shared::queue::{Queue, RedisTls, TlsFiles};
use wacast_shared::testing::{RedisServer, ServerSettings, ServerTls, TestRedis};

use crate::support::*;

/// The password the test gives the ACL user in place of the file's `CHANGE-ME`.
const PASSWORD: &str = "tls-test-password";

/// The certificates of one test, made by the openssl CLI in `dir`.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn new(dir: &Path) -> Pki {
        let pki = Pki {
            dir: dir.to_path_buf(),
        };
        pki.ca("ca");
        pki.ca("other-ca");
        pki.leaf("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost");
        pki.leaf("client", "ca", "extendedKeyUsage=clientAuth");
        pki
    }

    fn ca(&self, name: &str) {
        openssl(
            &self.dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=wacast test {name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
            ],
        );
    }

    fn leaf(&self, name: &str, ca: &str, extension: &str) {
        openssl(
            &self.dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        std::fs::write(self.path(&format!("{name}.ext")), format!("{extension}\n")).unwrap();
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.crt"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.crt"),
            ],
        );
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (scripts/lib.sh ensure_openssl installs it)");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The ACL line of `deploy/redis.conf` as `redis-server` arguments, with the test's password.
fn documented_acl_user() -> Vec<String> {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/redis.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("#   user wacast on "))
        .expect("deploy/redis.conf documents the wacast user");
    let mut args = vec!["--user".to_string(), "wacast".into(), "on".into()];
    args.extend(
        line.split_whitespace()
            .map(|word| word.replace(">CHANGE-ME", &format!(">{PASSWORD}"))),
    );
    assert!(args.iter().any(|a| a == &format!(">{PASSWORD}")), "{line}");
    args
}

/// A TLS-only server whose default user is off and whose wacast user is the documented one.
async fn locked_down_redis(pki: &Pki) -> RedisServer {
    let mut args = documented_acl_user();
    args.extend(["--user", "default", "off"].map(String::from));
    TestRedis::dedicated_with(ServerSettings {
        tls: Some(ServerTls {
            cert_file: pki.path("server.crt"),
            key_file: pki.path("server.key"),
            ca_file: pki.path("ca.crt"),
        }),
        args,
    })
    .await
}

/// The server's URL as the documented user.
fn user_url(server: &RedisServer) -> String {
    server
        .url()
        .replace("rediss://", &format!("rediss://wacast:{PASSWORD}@"))
}

/// The stderr of a command refused with exit status 2.
fn refused(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    stderr
}

/// The TLS flags of every command, with `ca` as the CA file.
fn tls_flags(pki: &Pki, ca: &str) -> Vec<String> {
    vec![
        "--redis-ca-file".into(),
        pki.path(ca).display().to_string(),
        "--redis-client-cert".into(),
        pki.path("client.crt").display().to_string(),
        "--redis-client-key".into(),
        pki.path("client.key").display().to_string(),
    ]
}

/// `wacast ARGS… --format json` at `url` with `flags`.
fn wacast(url: &str, flags: &[String], args: &[&str]) -> Output {
    Command::new(bin("wacast"))
        .args(args)
        .args(["--redis-url", url, "--format", "json"])
        .args(flags)
        .env_remove("WACAST_PREFIX")
        .output()
        .expect("wacast runs")
}

fn succeeded(output: &Output, what: &str) -> Value {
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_campaign_runs_as_the_documented_acl_user_over_tls() {
    let dir = TempDir::new().unwrap();
    let pki = Pki::new(dir.path());
    let server = locked_down_redis(&pki).await;
    let url = user_url(&server);
    let flags = tls_flags(&pki, "ca.crt");
    let gateway = spawn_gateway(&[]);
    let csv = write_csv(dir.path(), 20);

    let enqueued = wacast(
        &url,
        &flags,
        &[
            &["enqueue", "--csv", &csv.display().to_string()][..],
            &["--from", SENDER, "--id", "tls-demo"],
            &TEMPLATE,
        ]
        .concat(),
    );
    succeeded(&enqueued, "wacast enqueue over TLS as the ACL user");

    let mut worker = worker_command(&url, "wacast", &gateway.url(), Keys::BOTH);
    worker
        .args(["--default-rate", "unlimited"])
        .args(&flags)
        .env("RUST_LOG", "info");
    let _worker = wacast_tests::ChildGuard::spawn_daemon(worker).expect("wacast-worker starts");

    let tls = RedisTls::load(&TlsFiles {
        ca_file: Some(pki.path("ca.crt")),
        client_cert: Some(pki.path("client.crt")),
        client_key: Some(pki.path("client.key")),
    })
    .unwrap();
    let queue = Queue::connect_tls(&url, &tls, "wacast").await.unwrap();
    let id = CampaignId::parse("tls-demo").unwrap();
    wait_for(&queue, &id, Duration::from_secs(30), "all sent", |c| {
        c.counters.sent == 20
    })
    .await;

    let status = succeeded(
        &wacast(&url, &flags, &["status", "tls-demo"]),
        "wacast status",
    );
    assert_eq!(status["counters"]["sent"], 20, "{status}");
    assert_eq!(status["state"], "completed", "{status}");
    // The operator's other reading commands work as the same user.
    for args in [
        &["list"][..],
        &["report", "tls-demo"],
        &["workers"],
        &["rate", "list"],
        &["hooks", "unmatched"],
    ] {
        succeeded(&wacast(&url, &flags, args), &format!("wacast {args:?}"));
    }
    assert_eq!(
        gateway_stats(&gateway).await["accepted"].as_u64(),
        Some(20),
        "the mock accepted every message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_and_the_default_user_are_refused_with_errors_that_say_so() {
    let dir = TempDir::new().unwrap();
    let pki = Pki::new(dir.path());
    let server = locked_down_redis(&pki).await;

    // A CA that did not sign Redis's certificate.
    let url = user_url(&server);
    let stderr = refused(&wacast(&url, &tls_flags(&pki, "other-ca.crt"), &["list"]));
    assert!(
        stderr.contains("not signed by the CA in --redis-ca-file")
            && stderr.contains("other-ca.crt"),
        "{stderr}"
    );

    // A CA file that is not PEM is named before any connection.
    let not_pem = dir.path().join("not-pem.crt");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let flags = ["--redis-ca-file".to_string(), not_pem.display().to_string()];
    let stderr = refused(&wacast(&url, &flags, &["list"]));
    assert!(
        stderr.contains("not-pem.crt") && stderr.contains("holds no PEM certificate"),
        "{stderr}"
    );

    // The default user is off: no command runs without the wacast user.
    let stderr = refused(&wacast(
        &server.url(),
        &tls_flags(&pki, "ca.crt"),
        &["list"],
    ));
    assert!(stderr.contains("NOAUTH"), "{stderr}");

    // A plain redis:// URL does not reach a TLS-only server.
    let plain = url.replace("rediss://", "redis://");
    refused(&wacast(&plain, &[], &["list"]));
}
