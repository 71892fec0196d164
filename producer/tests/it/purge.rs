//! `wacast purge`: every key of a finished campaign goes, nothing of another one does, and the
//! retention purge takes only campaigns finished long enough ago.

use redis::AsyncCommands;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::queue::Terminal;

use crate::ops::{assert_refused, covered, enqueue, failed, finish, number, sent, wacast};
use crate::support::Env;

/// Every key under the test's prefix (SCAN, as an operator would) that belongs to `id`, and
/// whether the campaigns index, the due and lease sets still mention it.
async fn traces(env: &Env, id: &str) -> (Vec<String>, bool) {
    let mut conn = env.conn().await;
    let mut keys: Vec<String> = Vec::new();
    let mut iter: redis::AsyncIter<String> = conn
        .scan_match(format!("{}:*", env.redis.prefix))
        .await
        .unwrap();
    while let Some(key) = iter.next_item().await {
        keys.push(key.unwrap());
    }
    drop(iter);
    let marker = format!(":campaign:{id}");
    let mine: Vec<String> = keys
        .into_iter()
        .filter(|k| k.ends_with(&marker) || k.contains(&format!("{marker}:")))
        .collect();
    let k = &env.redis.keys;
    let indexed: Option<f64> = conn.zscore(k.campaigns(), id).await.unwrap();
    let refs: Vec<String> = conn.zrange(k.due(), 0, -1).await.unwrap();
    let leases: Vec<String> = conn.zrange(k.leases(), 0, -1).await.unwrap();
    let mentioned = indexed.is_some()
        || refs
            .iter()
            .chain(&leases)
            .any(|r| r.starts_with(&format!("{id}:")));
    (mine, mentioned)
}

#[tokio::test]
async fn purge_removes_every_key_of_a_finished_campaign_and_nothing_else() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let gone = enqueue(&env, "gone", 1500, &[]);
    finish(&queue, 5000, |row| match row % 4 {
        0 => failed("1", "bad"),
        1 => Terminal::Unknown {
            reason: "timeout".into(),
        },
        _ => sent(row),
    })
    .await;
    assert_eq!(
        queue.load_campaign(&gone).await.unwrap().state,
        CampaignState::Completed
    );
    // Another campaign, scheduled later, must keep every key.
    let kept = enqueue(&env, "kept", 5, &["--delay", "+1h"]);
    let (before, _) = traces(&env, "kept").await;
    assert_eq!(before.len(), 6, "{before:?}");
    let (mine, _) = traces(&env, "gone").await;
    assert_eq!(
        mine.len(),
        1503,
        "1500 messages, the hash, the failed set and the per-minute counters"
    );

    // A dry run deletes nothing.
    let out = wacast(&env, &["purge", "gone", "--dry-run", "--format", "text"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout
            .starts_with("would purge campaign gone (completed"),
        "{out:#?}"
    );
    assert_eq!(traces(&env, "gone").await.0.len(), 1503);

    let out = wacast(&env, &["purge", "gone"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    assert_eq!(json["purged"][0]["campaign"], "gone");
    assert_eq!(json["purged"][0]["messages"], 1500);
    assert_eq!(
        json["purged"][0]["other_keys"], 3,
        "the hash, the failed set, the minutes"
    );
    assert_eq!(traces(&env, "gone").await, (vec![], false));
    assert_refused(
        &wacast(&env, &["status", "gone"]),
        "campaign gone does not exist",
    );
    let (after, mentioned) = traces(&env, "kept").await;
    assert_eq!((after, mentioned), (before, true));
    assert_eq!(queue.load_campaign(&kept).await.unwrap().counters.queued, 5);
    assert_eq!(covered(&env, &env.redis.keys.due(), "kept").await.len(), 5);
}

#[tokio::test]
async fn purge_removes_the_rows_the_upload_rejected() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let csv = env.write(
        "rejects.csv",
        format!("phone,name\n{},A\n12,B\n{},C\n", number(1), number(1)),
    );
    let out = env.enqueue(
        &csv,
        &["--text", "Hi {{name}}", "--id", "rejects", "--delay", "+1h"],
    );
    assert_eq!(out.code, 1, "rows were rejected: {out:#?}");
    let id = CampaignId::parse("rejects").unwrap();
    let kept = queue.upload_rejects(&id).await.unwrap();
    let kept: Vec<(&str, u64, u64)> = kept
        .iter()
        .map(|s| (s.code.as_str(), s.count, s.rows[0].line))
        .collect();
    assert_eq!(kept, [("duplicate", 1, 4), ("invalid_phone", 1, 3)]);
    let (keys, _) = traces(&env, "rejects").await;
    assert!(keys.contains(&env.redis.keys.rejects(&id)), "{keys:?}");

    queue.cancel(&id).await.unwrap();
    let out = wacast(&env, &["purge", "rejects"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        out.json()["purged"][0]["other_keys"],
        2,
        "the hash and the rejects"
    );
    assert_eq!(traces(&env, "rejects").await, (vec![], false));
    assert!(queue.upload_rejects(&id).await.unwrap().is_empty());
}

#[tokio::test]
async fn purge_refuses_unfinished_campaigns_unless_forced_for_a_paused_one() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let id = enqueue(&env, "live", 4, &["--delay", "+1h"]);
    let before = queue.load_campaign(&id).await.unwrap();
    assert_refused(
        &wacast(&env, &["purge", "live"]),
        "campaign live is scheduled, so it cannot be purged: only finished campaigns are \
         purged: cancel it first",
    );
    assert_eq!(queue.load_campaign(&id).await.unwrap(), before);

    assert_eq!(wacast(&env, &["pause", "live"]).code, 0);
    assert_refused(&wacast(&env, &["purge", "live"]), "purge it with --force");
    let (keys, mentioned) = traces(&env, "live").await;
    assert!(keys.len() >= 5 && mentioned, "hash, 4 messages: {keys:?}");
    let out = wacast(&env, &["purge", "live", "--force"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(traces(&env, "live").await, (vec![], false));
}

#[tokio::test]
async fn retention_purges_only_campaigns_finished_before_the_cutoff() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let old = enqueue(&env, "old", 3, &[]);
    let recent = enqueue(&env, "recent", 2, &[]);
    finish(&queue, 100, sent).await;
    let old_cancelled = enqueue(&env, "oldcancel", 2, &["--delay", "+1h"]);
    assert_eq!(wacast(&env, &["cancel", "oldcancel"]).code, 0);
    let running = enqueue(&env, "oldrunning", 2, &[]);
    finish(&queue, 1, sent).await;
    // Age three campaigns by 40 days, as if they had been created and finished then.
    let mut conn = env.conn().await;
    let k = &env.redis.keys;
    let long_ago = chrono::Utc::now() - chrono::Duration::days(40);
    for id in [&old, &old_cancelled, &running] {
        let _: () = conn
            .zadd(k.campaigns(), id.as_str(), long_ago.timestamp_millis())
            .await
            .unwrap();
        let _: () = conn
            .hset(k.campaign(id), "finished_at", long_ago.to_rfc3339())
            .await
            .unwrap();
    }
    // A running campaign has no finished_at of its own.
    let _: () = conn
        .hdel(k.campaign(&running), "finished_at")
        .await
        .unwrap();

    let dry = wacast(&env, &["purge", "--finished-before", "30d", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:#?}");
    assert_eq!(dry.json()["purged"].as_array().unwrap().len(), 2);
    assert!(traces(&env, "old").await.1);

    let out = wacast(
        &env,
        &["purge", "--finished-before", "30d", "--format", "text"],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout.contains("purged campaign old (completed"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("purged campaign oldcancel (cancelled"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("2 campaigns purged (finished before "),
        "{out:#?}"
    );
    for id in ["old", "oldcancel"] {
        assert_eq!(traces(&env, id).await, (vec![], false), "{id}");
    }
    assert!(queue.load_campaign(&recent).await.is_ok());
    assert!(queue.load_campaign(&running).await.is_ok());
}
