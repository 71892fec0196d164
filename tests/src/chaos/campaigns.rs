//! The three campaigns of the soak, their CSVs and windows file, and the `wacast` commands the
//! soak runs as an operator would: enqueue, pause, resume, cancel, rate set.
//!
//! - **delayed**: the seed's `order_confirmation` template, sent 20 s after its enqueue; the
//!   one cancelled at 50%.
//! - **freetext**: freetext to recipients half of whom have an open 24-hour window at the mock
//!   (the rest fail with 7002001); every tenth row has its own send time, spread over the chaos,
//!   and a ttl of one minute, so that messages expire while the campaign waits behind its own
//!   backlog or its pause. The one paused and resumed, and whose sender's rate changes.
//! - **third**: through Bird (or seven, see `--third-provider`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, bail};
use wacast_shared::campaign::CampaignId;

use crate::chaos::config::{Provider, Rate};
use crate::gateway::bird::{DEFAULT_CHANNEL, DEFAULT_WORKSPACE};

/// The sender of each campaign (registered at the mock).
pub(crate) const SENDERS: [&str; 3] = ["4915112345678", "4915112345679", "4915112345680"];

/// How far ahead of its enqueue the delayed campaign is sent.
pub(crate) const DELAY: Duration = Duration::from_secs(20);

/// Which part a campaign plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Delayed,
    Freetext,
    Third,
}

/// One campaign as planned.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) role: Role,
    pub(crate) id: CampaignId,
    /// `--from`: the number whose rate the campaign's messages count against.
    pub(crate) from: &'static str,
    /// Whose traffic it is at the gateway: seven's `from`, or Bird's channel.
    pub(crate) gateway_sender: String,
    pub(crate) csv: PathBuf,
    args: Vec<String>,
}

/// A recipient of campaign `k` (1, 2, 3), row `row`: valid German mobile numbers, different for
/// every campaign so that a recipient's messages at the gateway belong to one campaign.
fn recipient(k: usize, row: u64) -> String {
    format!("+49151{k}{row:07}")
}

/// Writes the CSVs and the windows file into `dir` and returns the plans. `now_unix` is the
/// enqueue time, which the freetext campaign's own send times count from, over `spread`.
pub(crate) fn plan(
    dir: &Path,
    rows: u64,
    third: Provider,
    now_unix: i64,
    spread: Duration,
) -> anyhow::Result<(Vec<Plan>, PathBuf)> {
    let mut plans = Vec::new();
    let csv = |name: &str, text: &str| -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    };

    let mut text = String::from("phone,name,order_id\n");
    for row in 1..=rows {
        let _ = writeln!(text, "{},Customer {row},ORD-{row}", recipient(1, row));
    }
    plans.push(Plan {
        role: Role::Delayed,
        id: CampaignId::parse("chaos-delayed")?,
        from: SENDERS[0],
        gateway_sender: SENDERS[0].to_owned(),
        csv: csv("delayed.csv", &text)?,
        args: strings(
            &[
                &crate::ORDER_CONFIRMATION[..],
                &["--delay", &format!("+{}s", DELAY.as_secs())],
            ]
            .concat(),
        ),
    });

    let mut text = String::from("phone,name,order_id,delay,ttl\n");
    let mut windows = String::from("# recipients of the freetext campaign with an open window\n");
    let n_timed = rows / 10;
    for row in 1..=rows {
        let to = recipient(2, row);
        if row % 10 == 0 {
            // Spread evenly over the chaos: the k-th of n_timed rows is due k/n_timed into it.
            let k = i64::try_from(row / 10).unwrap_or(i64::MAX);
            let n = i64::try_from(n_timed.max(1)).unwrap_or(1);
            let spread_s = i64::try_from(spread.as_secs()).unwrap_or(i64::MAX);
            let due = now_unix + spread_s * k / n;
            let _ = writeln!(text, "{to},Customer {row},ORD-{row},{due},1");
        } else {
            let _ = writeln!(text, "{to},Customer {row},ORD-{row},,");
        }
        if row % 2 == 0 {
            let _ = writeln!(windows, "{to}");
        }
    }
    plans.push(Plan {
        role: Role::Freetext,
        id: CampaignId::parse("chaos-freetext")?,
        from: SENDERS[1],
        gateway_sender: SENDERS[1].to_owned(),
        csv: csv("freetext.csv", &text)?,
        args: strings(&[
            "--text",
            "Hello {{name}}, your order {{order_id}} has shipped.",
        ]),
    });
    let windows = csv("windows.txt", &windows)?;

    let mut text = String::from("phone,name,order_id\n");
    for row in 1..=rows {
        let _ = writeln!(text, "{},Customer {row},ORD-{row}", recipient(3, row));
    }
    let content = ["--text", "Hi {{name}}, order {{order_id}} is on its way."];
    let (args, gateway_sender) = match third {
        Provider::Bird => {
            let mut args = strings(&[
                "--provider",
                "bird",
                "--workspace",
                DEFAULT_WORKSPACE,
                "--channel",
                DEFAULT_CHANNEL,
            ]);
            args.extend(strings(&content));
            (args, DEFAULT_CHANNEL.to_owned())
        }
        // seven only sends freetext into an open window: a template, as the first campaign.
        Provider::Seven => (strings(&crate::ORDER_CONFIRMATION), SENDERS[2].to_owned()),
    };
    plans.push(Plan {
        role: Role::Third,
        id: CampaignId::parse(match third {
            Provider::Bird => "chaos-bird",
            Provider::Seven => "chaos-third",
        })?,
        from: SENDERS[2],
        gateway_sender,
        csv: csv("third.csv", &text)?,
        args,
    });
    Ok((plans, windows))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

/// Runs `wacast` against the soak's Redis.
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    pub(crate) program: PathBuf,
    pub(crate) redis_url: String,
    pub(crate) prefix: String,
}

impl Operator {
    fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        Command::new(&self.program)
            .args(args)
            .args(["--redis-url", &self.redis_url, "--prefix", &self.prefix])
            .env_remove("WACAST_REDIS_URL")
            .env_remove("WACAST_PREFIX")
            .output()
            .with_context(|| format!("cannot run {}", self.program.display()))
    }

    fn expect_success(&self, what: &str, args: &[&str]) -> anyhow::Result<Output> {
        let output = self.run(args)?;
        if !output.status.success() {
            bail!(
                "`wacast {}` ({what}) failed with {}:\n{}{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    }

    /// Enqueues a planned campaign; every row must be accepted.
    pub(crate) fn enqueue(&self, plan: &Plan) -> anyhow::Result<()> {
        let csv = plan.csv.to_string_lossy();
        let mut args = vec![
            "enqueue",
            "--csv",
            csv.as_ref(),
            "--from",
            plan.from,
            "--id",
            plan.id.as_str(),
            "--format",
            "json",
            "--quiet",
        ];
        args.extend(plan.args.iter().map(String::as_str));
        let output = self.run(&args)?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "`wacast enqueue` of {} failed with {} (exit 1: rows were rejected, see the rejects \
             file beside {}):\n{}{stderr}",
            plan.id,
            output.status,
            plan.csv.display(),
            String::from_utf8_lossy(&output.stdout),
        );
    }

    pub(crate) fn pause(&self, id: &CampaignId) -> anyhow::Result<()> {
        self.expect_success("pause", &["pause", id.as_str(), "--reason", "chaos soak"])?;
        Ok(())
    }

    pub(crate) fn resume(&self, id: &CampaignId) -> anyhow::Result<()> {
        self.expect_success("resume", &["resume", id.as_str()])?;
        Ok(())
    }

    pub(crate) fn cancel(&self, id: &CampaignId) -> anyhow::Result<()> {
        self.expect_success("cancel", &["cancel", id.as_str()])?;
        Ok(())
    }

    /// `wacast rate set SENDER MPS BURST`: the whole fleet applies it from its next claims.
    pub(crate) fn set_rate(&self, sender: &str, rate: Rate) -> anyhow::Result<()> {
        let (mps, burst) = (rate.per_second.to_string(), rate.burst.to_string());
        self.expect_success("rate set", &["rate", "set", sender, &mps, &burst])?;
        Ok(())
    }
}
