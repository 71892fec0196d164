//! `wacast completions` (clap_complete's scripts for bash, zsh and fish) and `wacast manpages`
//! (the man pages, written by `wacast_shared::manual`): both from the clap definitions, so they
//! never disagree with `--help`.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionShell};

/// Prints the completion script of `shell` on stdout.
pub(crate) fn completions(shell: CompletionShell) -> anyhow::Result<ExitCode> {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "wacast", &mut script);
    crate::cmd::output::print(&String::from_utf8(script)?)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the man pages into `out` and lists them on stdout.
pub(crate) fn manpages(out: &Path) -> anyhow::Result<ExitCode> {
    let pages = wacast_shared::manual::write_man_pages(Cli::command(), out).map_err(|err| {
        anyhow::anyhow!(
            "failed to write the man pages into {}: {err}",
            out.display()
        )
    })?;
    let list: Vec<String> = pages.iter().map(|p| format!("{}\n", p.display())).collect();
    crate::cmd::output::print(&list.concat())?;
    Ok(ExitCode::SUCCESS)
}
