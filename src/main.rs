use std::process::ExitCode;

use clap::Parser;

fn main() -> color_eyre::Result<ExitCode> {
    color_eyre::install()?;
    let cli = mastop::cli::Cli::parse();
    mastop::commands::dispatch(cli)
}
