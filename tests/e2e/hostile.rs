//! Secrets on an operator's worst day (issue 15), with the real `wacast` and `wacast-worker`: no
//! error path prints the Redis password, the Redis URL comes from a file or the systemd
//! credential, and a worker's id keeps the host name.

use std::path::Path;
use std::process::{Command, Stdio};

use wacast_shared::testing::TestRedis;

use crate::support::*;

/// The password the tests put into Redis URLs; no output may hold it.
const SECRET: &str = "s3cret-pw-never-printed";

/// Extra arguments and environment variables of one run.
type Way<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);

/// Output of one run.
struct Run {
    code: Option<i32>,
    output: String,
}

/// `binary ARGS…` with nothing of the test process's own wacast configuration, and `envs`.
fn run(binary: &str, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut command = Command::new(bin(binary));
    command.args(args).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("WACAST_")
            || key == "CREDENTIALS_DIRECTORY"
            || key == "SEVEN_API_KEY"
            || key == "BIRD_ACCESS_KEY"
        {
            command.env_remove(key.as_ref());
        }
    }
    command
        .env("RUST_LOG", "info")
        .env("SEVEN_API_KEY", "test-key")
        .envs(envs.iter().copied());
    let output = command.output().expect("the binary runs");
    Run {
        code: output.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a test file");
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_path_prints_the_redis_password() {
    // A Redis that wants another password than the one given, and a port nobody listens on.
    let server = TestRedis::dedicated().await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("the-right-one")
        .query_async(&mut conn)
        .await
        .unwrap();
    let port = server.url().rsplit(':').next().unwrap().to_string();
    let wrong = format!("redis://:{SECRET}@127.0.0.1:{port}/0");
    let unreachable = format!("redis://wacast:{SECRET}@127.0.0.1:1/0");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "redis-url", &format!("{wrong}\n"));
    let unix = format!("unix:///nonexistent/redis.sock?db=0&pass={SECRET}");
    // Each way of giving each URL to each command; run side by side, as the worker tries for
    // up to ten seconds before it gives up.
    let mut cases: Vec<(&str, Way<'_>)> = Vec::new();
    for (binary, command) in [
        ("wacast", &["status", "0123456789ab"][..]),
        ("wacast", &["list"][..]),
        ("wacast-worker", &["check-config"][..]),
    ] {
        cases.push((
            binary,
            ([command, &["--redis-url", &unreachable]].concat(), vec![]),
        ));
        cases.push((
            binary,
            (command.to_vec(), vec![("WACAST_REDIS_URL", &wrong)]),
        ));
        cases.push((
            binary,
            ([command, &["--redis-url-file", &file]].concat(), vec![]),
        ));
        cases.push((
            binary,
            ([command, &["--redis-url", &unix]].concat(), vec![]),
        ));
    }
    std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(binary, (args, envs))| scope.spawn(move || run(binary, args, envs)))
            .collect();
        for ((binary, (args, envs)), got) in cases.iter().zip(runs) {
            let got = got.join().expect("the run thread");
            assert_ne!(
                got.code,
                Some(0),
                "{binary} {args:?} {envs:?}: {}",
                got.output
            );
            assert!(
                !got.output.contains(SECRET),
                "{binary} {args:?} {envs:?} printed the password: {}",
                got.output
            );
            assert!(
                got.output.contains("Redis"),
                "{binary} {args:?} should say Redis failed: {}",
                got.output
            );
        }
    });
    // Nor does --help, with the URL in the environment.
    for binary in ["wacast", "wacast-worker"] {
        let got = run(binary, &["--help"], &[("WACAST_REDIS_URL", &wrong)]);
        assert_eq!(got.code, Some(0), "{}", got.output);
        assert!(
            !got.output.contains(SECRET),
            "{binary} --help: {}",
            got.output
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_url_comes_from_a_file_or_the_systemd_credential() {
    let redis = TestRedis::shared().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "url", &format!("{}\n", redis.url));
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    write(&credentials, "redis-url", &redis.url);
    let credentials = credentials.to_str().unwrap();
    let prefix = ["--prefix", redis.prefix.as_str()];
    let ways: [Way<'_>; 3] = [
        (vec!["--redis-url-file", &file], vec![]),
        (vec![], vec![("WACAST_REDIS_URL_FILE", &file)]),
        (vec![], vec![("CREDENTIALS_DIRECTORY", credentials)]),
    ];
    for (flags, envs) in ways {
        let got = run("wacast", &[&["list"][..], &prefix, &flags].concat(), &envs);
        assert_eq!(
            got.code,
            Some(0),
            "wacast {flags:?} {envs:?}: {}",
            got.output
        );
        let got = run(
            "wacast-worker",
            &[&["check-config"][..], &prefix, &flags].concat(),
            &envs,
        );
        assert_eq!(
            got.code,
            Some(0),
            "wacast-worker {flags:?} {envs:?}: {}",
            got.output
        );
        assert!(got.output.contains("Redis answers"), "{}", got.output);
    }
    // Both a URL and a file: refused, saying which.
    let got = run(
        "wacast",
        &["list", "--redis-url", &redis.url, "--redis-url-file", &file],
        &[],
    );
    assert_eq!(got.code, Some(2), "{}", got.output);
    assert!(
        got.output.contains("the Redis URL is given twice"),
        "{}",
        got.output
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_id_keeps_the_host_name() {
    let redis = TestRedis::shared().await;
    // The name as the test sees it; the worker asks the kernel (uname), which the unit's
    // ProtectHostname= and ProtectKernelTunables= leave readable.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("the test host has /proc/sys")
        .trim()
        .to_string();
    let got = run(
        "wacast-worker",
        &[
            "check-config",
            "--redis-url",
            &redis.url,
            "--prefix",
            &redis.prefix,
        ],
        &[],
    );
    assert_eq!(got.code, Some(0), "{}", got.output);
    assert!(got.output.contains(&format!("-{host}-")), "{}", got.output);
}
