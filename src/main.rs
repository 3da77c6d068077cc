use std::process::ExitCode;

use clap::Parser;

fn main() -> color_eyre::Result<ExitCode> {
    mastop::STARTED.get_or_init(std::time::Instant::now);
    color_eyre::install()?;
    let cli = mastop::cli::Cli::parse();
    mastop::commands::dispatch(cli)
}
