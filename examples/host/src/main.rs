//! The whole node on a PC: `scale-node-host --help` for the flags.

use std::process::ExitCode;

use clap::Parser;
use scale_node_host::cli::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    let r = if args.bench {
        scale_node_host::bench::run(args.seconds).map(|b| println!("{b}"))
    } else {
        scale_node_host::run::run(&args)
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
