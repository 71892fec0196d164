//! `wacast retry`: failed and unknown messages go back to the queue with their history, only
//! when the campaign is not running or cancelled.

use redis::AsyncCommands;
use wacast_shared::campaign::CampaignState;
use wacast_shared::queue::Terminal;
use wacast_shared::testing::counters_match_messages;

use crate::ops::{assert_refused, claimable, covered, enqueue, failed, finish, sent, wacast};
use crate::support::Env;

#[tokio::test]
async fn retry_requeues_matching_rows_and_keeps_their_history() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let keys = &env.redis.keys;
    let id = enqueue(&env, "again", 6, &[]);
    finish(&queue, 100, |row| match row {
        1 | 2 => failed("7002001", "no open 24-hour window"),
        3 => failed("131026", "undeliverable"),
        4 => Terminal::Unknown {
            reason: "read timed out".into(),
        },
        _ => sent(row),
    })
    .await;
    let before = queue.load_campaign(&id).await.unwrap();
    assert_eq!(before.state, CampaignState::Completed);

    let out = wacast(
        &env,
        &[
            "retry",
            "again",
            "--status",
            "failed",
            "--error-code",
            "7002001",
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    assert_eq!(json["requeued"], 2);
    // It runs again: no longer finished.
    assert_eq!(json["state"], "running");
    assert_eq!(json["finished_at"], serde_json::Value::Null);
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.state, CampaignState::Running);
    assert_eq!(record.finished_at, None);
    let c = record.counters;
    assert_eq!(
        (c.queued, c.failed, c.unknown, c.sent),
        (2, 1, 1, 2),
        "{c:?}"
    );
    for row in [1, 2] {
        let hash = env.message("again", row).await;
        assert_eq!(hash["status"], "queued", "row {row}");
        assert_eq!(hash["attempts"], "1", "attempts stay counted");
        assert_eq!(hash["last_status"], "failed");
        assert_eq!(hash["last_error_code"], "7002001");
        assert_eq!(hash["last_error"], "no open 24-hour window");
        assert!(hash.contains_key("retried_at"));
        for gone in ["error", "error_code", "worker"] {
            assert!(
                !hash.contains_key(gone),
                "row {row} still has {gone}: {hash:?}"
            );
        }
        assert!(
            covered(&env, &keys.due(), "again").await.contains_key(&row),
            "row {row} is due"
        );
    }
    let still_failed: Vec<u64> = env.conn().await.smembers(keys.failed(&id)).await.unwrap();
    let mut still_failed = still_failed;
    still_failed.sort_unstable();
    assert_eq!(still_failed, [3, 4]);
    counters_match_messages(&queue, &id).await.unwrap();

    // A second attempt succeeds; the campaign completes again.
    assert_eq!(finish(&queue, 100, sent).await, [1, 2]);
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.state, CampaignState::Completed);
    assert_eq!(env.message("again", 1).await["attempts"], "2");

    // Nothing left to match is no error, and changes nothing.
    let out = wacast(
        &env,
        &[
            "retry",
            "again",
            "--status",
            "failed",
            "--error-code",
            "nope",
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.json()["requeued"], 0);
    assert_eq!(
        queue.load_campaign(&id).await.unwrap().state,
        CampaignState::Completed
    );

    // Unknown ones only on their own word.
    let out = wacast(
        &env,
        &["retry", "again", "--status", "unknown", "--format", "text"],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout.contains("1 unknown messages queued again"),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("may have reached their recipients"),
        "{out:#?}"
    );
    let hash = env.message("again", 4).await;
    assert_eq!(hash["last_status"], "unknown");
    assert_eq!(hash["last_error"], "read timed out");
    assert!(!hash.contains_key("last_error_code"));
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test]
async fn retry_is_refused_while_running_and_for_cancelled_campaigns() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let id = enqueue(&env, "busy", 3, &[]);
    finish(&queue, 1, |_| failed("1", "bad")).await;
    let before = queue.load_campaign(&id).await.unwrap();
    assert_eq!(before.state, CampaignState::Running);
    assert_refused(
        &wacast(&env, &["retry", "busy", "--status", "failed"]),
        "campaign busy is running, so it cannot be retried: its failures are still changing: \
         wait for it to finish (`wacast wait busy`) or pause it (`wacast pause busy`)",
    );
    assert_eq!(queue.load_campaign(&id).await.unwrap(), before);

    // Paused: the message waits aside until the campaign is resumed.
    assert_eq!(wacast(&env, &["pause", "busy"]).code, 0);
    let out = wacast(
        &env,
        &["retry", "busy", "--status", "failed", "--format", "text"],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout.contains("sent after `wacast resume busy`"),
        "{out:#?}"
    );
    assert_eq!(claimable(&queue).await, 0, "nothing is sent while paused");
    assert!(
        covered(&env, &env.redis.keys.paused(&id), "busy")
            .await
            .contains_key(&1)
    );
    assert!(
        !covered(&env, &env.redis.keys.due(), "busy")
            .await
            .contains_key(&1)
    );
    assert_eq!(env.message("busy", 1).await["status"], "queued");
    counters_match_messages(&queue, &id).await.unwrap();

    assert_eq!(wacast(&env, &["cancel", "busy"]).code, 0);
    assert_refused(
        &wacast(&env, &["retry", "busy", "--status", "failed"]),
        "campaign busy is cancelled, so it cannot be retried",
    );
    // --status takes failed or unknown only.
    let out = wacast(&env, &["retry", "busy", "--status", "sent"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("retry takes failed or unknown"),
        "{out:#?}"
    );
}
