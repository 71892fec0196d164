//! `wacast optout`: numbers read as enqueue reads them, all-or-nothing for add and remove, line
//! numbers for a bad import, and enqueue honouring the list.

use redis::AsyncCommands;

use crate::ops::{assert_refused, wacast};
use crate::support::Env;

async fn listed(env: &Env) -> Vec<String> {
    let mut numbers: Vec<String> = env
        .conn()
        .await
        .smembers(env.redis.keys.optout())
        .await
        .unwrap();
    numbers.sort();
    numbers
}

#[tokio::test]
async fn add_check_and_remove_read_numbers_like_enqueue() {
    let env = Env::new().await;
    let out = wacast(
        &env,
        &[
            "optout",
            "add",
            "0151 23456789",
            "+43 664 1234567",
            "--region",
            "DE",
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    assert_eq!(
        (json["added"].as_u64(), json["on_list"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(listed(&env).await, ["436641234567", "4915123456789"]);

    // Adding again changes nothing; an invalid number refuses the whole command.
    let out = wacast(&env, &["optout", "add", "004915123456789"]);
    assert_eq!(out.json()["already_on_list"], 1);
    assert_refused(
        &wacast(&env, &["optout", "add", "+4917612345678", "12"]),
        "nothing was added",
    );
    assert_eq!(listed(&env).await.len(), 2);

    let on = wacast(
        &env,
        &["optout", "check", "+49 151 23456789", "--format", "text"],
    );
    assert_eq!(on.code, 0, "{on:#?}");
    assert_eq!(on.stdout, "+4915123456789 is on the opt-out list\n");
    let off = wacast(&env, &["optout", "check", "+4917612345678"]);
    assert_eq!(off.code, 1, "{off:#?}");
    assert_eq!(off.json()["opted_out"], false);

    let out = wacast(
        &env,
        &["optout", "remove", "+4915123456789", "+4917612345678"],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    assert_eq!(
        (json["removed"].as_u64(), json["not_on_list"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(listed(&env).await, ["436641234567"]);
}

#[tokio::test]
async fn import_adds_every_valid_line_and_names_the_bad_ones() {
    let env = Env::new().await;
    let mut text = String::from("phone;name\n# unsubscribed by mail\n\n");
    for i in 0..2500 {
        text.push_str(&format!("+49151{i:08};x\n"));
    }
    text.push_str("12345\n");
    let file = env.write("optouts.csv", text);
    let out = wacast(&env, &["optout", "import", file.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:#?}");
    let json = out.json();
    assert_eq!(json["numbers_read"], 2501);
    assert_eq!(json["added"], 2500);
    assert_eq!(json["invalid"], 1);
    assert_eq!(json["on_list"], 2500);
    assert!(out.stderr.contains("line 2504: "), "{out:#?}");

    // Enqueue rejects the listed numbers.
    let csv = env.write("in.csv", "phone,name\n+4915100000007,A\n+4915199999999,B\n");
    let out = env.enqueue(&csv, &["--text", "Hi {{name}}", "--id", "o"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(out.json()["rejected_by_reason"]["opted_out"], 1);
    assert_eq!(out.json()["enqueued"], 1);
}

#[tokio::test]
async fn list_prints_every_number_with_its_source_and_remove_forgets_it() {
    let env = Env::new().await;
    assert_eq!(wacast(&env, &["optout", "add", "+4915123456789"]).code, 0);
    let file = env.write("o.txt", "+4917012345678\n");
    assert_eq!(
        wacast(&env, &["optout", "import", file.to_str().unwrap()]).code,
        0
    );
    // Added by the hooks endpoint (a STOP reply to row 12 of `spring`), and by an older wacast
    // that kept no source.
    let mut conn = env.conn().await;
    let sources = format!("{}:source", env.redis.keys.optout());
    let _: () = conn
        .sadd(env.redis.keys.optout(), &["491701111111", "491702222222"])
        .await
        .unwrap();
    let _: () = conn
        .hset(
            &sources,
            "491701111111",
            r#"{"source":"reply","at":"2026-05-01T07:12:00.000Z","campaign":"spring","row":12}"#,
        )
        .await
        .unwrap();
    // Adding a number already listed keeps the source it has.
    assert_eq!(wacast(&env, &["optout", "add", "+491701111111"]).code, 0);

    let out = wacast(&env, &["optout", "list"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let mut entries: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    entries.sort_by(|a, b| a["number"].as_str().cmp(&b["number"].as_str()));
    let summary: Vec<(&str, Option<&str>)> = entries
        .iter()
        .map(|e| (e["number"].as_str().unwrap(), e["source"].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("4915123456789", Some("manual")),
            ("491701111111", Some("reply")),
            ("4917012345678", Some("import")),
            ("491702222222", None),
        ]
    );
    assert_eq!(entries[1]["campaign"], "spring");
    assert_eq!(entries[1]["row"], 12);
    assert_eq!(entries[1]["at"], "2026-05-01T07:12:00Z");
    assert!(entries[0]["at"].is_string(), "{entries:?}");
    assert_eq!(entries[0]["campaign"], serde_json::Value::Null);

    let text = wacast(&env, &["optout", "list", "--format", "text"]);
    assert_eq!(text.code, 0, "{text:#?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{text:#?}");
    assert!(lines[0].starts_with("NUMBER "), "{text:#?}");
    let reply = lines
        .iter()
        .find(|l| l.starts_with("+491701111111"))
        .unwrap();
    assert!(
        reply.contains("reply    2026-05-01 07:12:00  spring"),
        "{reply:?}"
    );
    assert!(reply.ends_with(" 12"), "{reply:?}");
    assert!(
        text.stderr.contains("4 numbers on the opt-out list"),
        "{text:#?}"
    );

    // Removed numbers lose their source: added again later, they get a new one.
    assert_eq!(wacast(&env, &["optout", "remove", "+491701111111"]).code, 0);
    let left: Option<String> = conn.hget(&sources, "491701111111").await.unwrap();
    assert_eq!(left, None);
    assert_eq!(wacast(&env, &["optout", "add", "+491701111111"]).code, 0);
    let again: String = conn.hget(&sources, "491701111111").await.unwrap();
    assert!(again.contains(r#""source":"manual""#), "{again}");
}

#[tokio::test]
async fn list_reads_a_large_list_in_batches_each_number_once() {
    let env = Env::new().await;
    let mut text = String::new();
    for i in 0..3500 {
        text.push_str(&format!("+49151{i:08}\n"));
    }
    let file = env.write("many.txt", text);
    assert_eq!(
        wacast(&env, &["optout", "import", file.to_str().unwrap()]).code,
        0
    );
    let out = wacast(&env, &["optout", "list"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let numbers: std::collections::HashSet<&str> = out.stdout.lines().collect();
    assert_eq!(out.stdout.lines().count(), 3500);
    assert_eq!(numbers.len(), 3500);
    assert!(
        out.stdout
            .lines()
            .all(|l| l.contains(r#""source":"import""#))
    );
}
