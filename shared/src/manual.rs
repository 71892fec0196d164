//! The manual both binaries ship: man pages from their clap definitions (clap_mangen), so that
//! `man wacast` says what `--help` says. `wacast manpages` and `wacast-worker manpages` call
//! [`write_man_pages`]; the packaging script (scripts/package.sh) runs them.

use std::path::{Path, PathBuf};

/// Writes one roff page per visible command into `dir` (created if missing): `NAME.1` for the
/// binary and `NAME-SUB.1` for each subcommand, at any depth (`wacast-optout-add.1`). Returns
/// the files written, parents first.
pub fn write_man_pages(command: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    // clap_mangen::generate_to does the same walk but does not say which files it wrote.
    fn walk(command: &clap::Command, dir: &Path, pages: &mut Vec<PathBuf>) -> std::io::Result<()> {
        pages.push(clap_mangen::Man::new(command.clone()).generate_to(dir)?);
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            walk(sub, dir, pages)?;
        }
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    // Built, so that subcommands carry their display names (`wacast-optout-add`); the help
    // subcommand has no page of its own.
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    walk(&command, dir, &mut pages)?;
    Ok(pages)
}
