//! Asking the operator before a command that cannot be undone (`cancel`, `purge`): only when
//! stdin is a terminal, so that scripts and cron jobs behave as they always did; `--yes`
//! answers for the operator.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};

/// Asks `question` on stderr and reads the answer from the terminal; anything but `y` or `yes`
/// stops the command, with nothing changed. Does not ask when `yes` is given or stdin is not a
/// terminal.
pub(crate) fn confirm(question: &str, yes: bool) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if yes || !stdin.is_terminal() {
        return Ok(());
    }
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "{question} [y/N] ")
        .and_then(|()| stderr.flush())
        .context("cannot ask for confirmation")?;
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if is_yes(&answer) {
        return Ok(());
    }
    bail!(
        "not confirmed: nothing was changed\n\nhint: answer y, or give --yes to skip the question"
    )
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_confirms() {
        assert!(is_yes("y\n") && is_yes(" YES \n"));
        assert!(!is_yes("\n") && !is_yes("n\n") && !is_yes("yep\n"));
    }
}
