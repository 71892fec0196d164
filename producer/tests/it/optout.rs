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
