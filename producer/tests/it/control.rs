//! `wacast pause`, `resume`, `cancel`: the campaign and its messages move as the commands say,
//! and what makes no sense is refused without changing anything.

use wacast_shared::campaign::CampaignState;
use wacast_shared::queue::MessageStatus;
use wacast_shared::testing::counters_match_messages;

use crate::ops::{assert_refused, claimable, covered, enqueue, finish, sent, wacast, wacast_env};
use crate::support::Env;

#[tokio::test]
async fn pause_resume_and_cancel_move_the_campaign_and_its_messages() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let keys = &env.redis.keys;
    let id = enqueue(&env, "controlled", 10, &[]);
    let send_at = queue.load_campaign(&id).await.unwrap().campaign.send_at;
    assert_eq!(covered(&env, &keys.due(), "controlled").await.len(), 10);

    let out = wacast(&env, &["pause", id.as_str(), "--reason", "wrong template"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.json()["state"], "paused");
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.state, CampaignState::Paused);
    assert_eq!(record.pause_reason.as_deref(), Some("wrong template"));
    // Due now, but nothing can be claimed: every message waits aside, its due time kept.
    assert_eq!(claimable(&queue).await, 0);
    assert!(covered(&env, &keys.due(), "controlled").await.is_empty());
    let aside = covered(&env, &keys.paused(&id), "controlled").await;
    assert_eq!(aside.len(), 10);
    assert!(aside.values().all(|due| *due == send_at.timestamp_millis()));
    let status = wacast(&env, &["status", id.as_str(), "--format", "text"]);
    assert!(
        status
            .stdout
            .contains("state        paused: wrong template"),
        "{status:#?}"
    );

    let out = wacast(&env, &["resume", id.as_str(), "--format", "text"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        out.stdout,
        "campaign controlled resumed: it is scheduled again\n"
    );
    assert_eq!(
        queue.load_campaign(&id).await.unwrap().state,
        CampaignState::Scheduled
    );
    // Back in the due set with their send time, not "now".
    let due = covered(&env, &keys.due(), "controlled").await;
    assert_eq!(due.len(), 10);
    assert_eq!(due[&1], send_at.timestamp_millis());

    let out = wacast(&env, &["cancel", id.as_str()]);
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    assert_eq!(json["cancelled_now"], 10);
    assert_eq!(json["state"], "cancelled");
    assert_eq!(json["counters"]["cancelled"], 10);
    assert_eq!(claimable(&queue).await, 0);
    for row in 1..=10 {
        assert_eq!(env.message(id.as_str(), row).await["status"], "cancelled");
    }
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test]
async fn refusals_explain_themselves_and_change_nothing() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;

    // Resume what is not paused.
    let running = enqueue(&env, "running", 3, &[]);
    finish(&queue, 1, sent).await;
    let before = queue.load_campaign(&running).await.unwrap();
    assert_eq!(before.state, CampaignState::Running);
    assert_refused(
        &wacast(&env, &["resume", running.as_str()]),
        "campaign running is running, not paused: there is nothing to resume",
    );
    assert_eq!(queue.load_campaign(&running).await.unwrap(), before);

    // Resume or pause a cancelled campaign.
    let cancelled = enqueue(&env, "gone", 3, &[]);
    assert_eq!(wacast(&env, &["cancel", "gone"]).code, 0);
    let before = queue.load_campaign(&cancelled).await.unwrap();
    assert_refused(
        &wacast(&env, &["resume", "gone"]),
        "campaign gone is cancelled, so it cannot be resumed: a cancelled campaign stays \
         cancelled",
    );
    assert_refused(
        &wacast(&env, &["pause", "gone"]),
        "campaign gone is cancelled, so it cannot be paused",
    );
    assert_eq!(queue.load_campaign(&cancelled).await.unwrap(), before);

    // Pause or cancel a completed campaign.
    let done = enqueue(&env, "done", 2, &[]);
    finish(&queue, 100, sent).await;
    let before = queue.load_campaign(&done).await.unwrap();
    assert_eq!(before.state, CampaignState::Completed);
    assert_refused(
        &wacast(&env, &["pause", "done"]),
        "campaign done is completed, so it cannot be paused: every message is final already",
    );
    assert_refused(
        &wacast(&env, &["cancel", "done"]),
        "campaign done is completed, so it cannot be cancelled",
    );
    assert_eq!(queue.load_campaign(&done).await.unwrap(), before);
    for row in 1..=2 {
        assert_eq!(
            env.message("done", row).await["status"],
            MessageStatus::Sent.as_str()
        );
    }
}

#[tokio::test]
async fn cancelling_a_handoff_campaign_needs_the_api_key_before_anything_changes() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let id = enqueue(
        &env,
        "handoff",
        3,
        &["--delay", "+2h", "--handoff-ahead", "30"],
    );
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.campaign.handoff_ahead_minutes, 30);
    assert_eq!(env.campaign("handoff").await["handoff_ahead"], "30");
    // Due half an hour before the send time.
    let due = covered(&env, &env.redis.keys.due(), "handoff").await[&1];
    assert_eq!(
        record.campaign.send_at.timestamp_millis() - due,
        30 * 60 * 1000
    );

    let out = wacast(&env, &["cancel", "handoff"]);
    assert_refused(&out, "needs the API key (nothing was changed)");
    assert!(out.stderr.contains("SEVEN_API_KEY"), "{out:#?}");
    assert_eq!(queue.load_campaign(&id).await.unwrap(), record);
    assert_eq!(
        covered(&env, &env.redis.keys.due(), "handoff").await.len(),
        3
    );

    // With a key file, the queue part happens (no message was handed to seven yet).
    let key = env.write("key", "test-key\n");
    let out = wacast_env(
        &env,
        &[
            "cancel",
            "handoff",
            "--api-key-file",
            key.to_str().unwrap(),
            // Nothing is held at seven, so nothing is asked of it.
            "--seven-base-url",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.json()["held_at_seven"]["found"], 0);
    assert_eq!(
        queue.load_campaign(&id).await.unwrap().counters.cancelled,
        3
    );
}
