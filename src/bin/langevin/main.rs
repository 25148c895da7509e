//! The `langevin` command line: sample a built-in model, benchmark the kernels, plot and merge
//! draws files, list adapters. One file per subcommand; arguments in `args`, the run's
//! construction in `target`, checks before any work in `checks`.

mod args;
mod bench;
mod checks;
mod console;
mod plot;
mod progress;
mod sample;
mod signals;
mod target;

use std::collections::HashSet;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};
use langevin::gpu::list_adapters;
use langevin::Gpu;

use args::{Cli, Command};
use console::{note, say};

/// Exit codes (the README's table): 0 success; 1 an error, nothing committed; 2 a usage error
/// (from clap); 3 every chain diverged (the files are written, for inspection); 128 + the
/// signal's number when Ctrl-C (130) or SIGTERM (143) stopped the run.
const EXIT_ERROR: i32 = 1;
/// Every chain diverged: no finite draw is left.
pub(crate) const EXIT_ALL_DIVERGED: i32 = 3;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    give_mesa_a_runtime_dir();
    let matches = Cli::command().get_matches();
    let code = match Cli::from_arg_matches(&matches) {
        Ok(cli) => {
            let given = given_options(&matches);
            match run(cli, &given) {
                Ok(code) => code,
                Err(error) => {
                    note!("error: {error:#}");
                    EXIT_ERROR
                }
            }
        }
        Err(error) => error.exit(),
    };
    std::process::exit(code);
}

/// Mesa's window-system code prints "error: XDG_RUNTIME_DIR is invalid or not set" twice on
/// every run of a software adapter when the variable names no private folder, though compute
/// needs no display. Before any thread starts, point it at a private folder of our own under
/// the system temp dir (only when it is unset or not a folder), so the warning never reaches
/// the user; an explicit valid setting is left alone.
fn give_mesa_a_runtime_dir() {
    let valid = std::env::var_os("XDG_RUNTIME_DIR")
        .is_some_and(|dir| !dir.is_empty() && std::path::Path::new(&dir).is_dir());
    if valid {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        // One folder per user, owned by them with mode 0700, as the XDG spec asks.
        let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
        let dir = std::env::temp_dir().join(format!("langevin-runtime-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let private = std::fs::symlink_metadata(&dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0);
        if private {
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
}

/// The options of the subcommand that the user gave (on the command line or in the
/// environment), by their ids: what `sample` checks for options its model would ignore.
fn given_options(matches: &clap::ArgMatches) -> HashSet<String> {
    let Some((_, sub)) = matches.subcommand() else {
        return HashSet::new();
    };
    sub.ids()
        .filter(|id| {
            matches!(
                sub.value_source(id.as_str()),
                Some(
                    clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable
                )
            )
        })
        .map(|id| id.as_str().to_owned())
        .collect()
}

fn run(cli: Cli, given: &HashSet<String>) -> Result<i32> {
    match cli.command {
        Command::Adapters => {
            for a in list_adapters()? {
                let mark = if a.is_default { "*" } else { " " };
                say!(
                    "{mark} {} [{}, {}] {}",
                    a.name,
                    a.backend,
                    a.device_type,
                    a.driver
                );
            }
            Ok(0)
        }
        Command::Sample(args) => {
            checks::refuse_ignored_options(&args, given)?;
            checks::sample_paths(&args)?;
            sample::sample(open(cli.adapter.as_deref())?, &args)
        }
        Command::Bench(args) => {
            if let Some(json) = &args.json {
                let mut inputs = vec![("--a9a".into(), args.a9a.clone())];
                if let Some(peers) = &args.peers {
                    inputs.push(("--peers".into(), peers.clone()));
                }
                checks::single_output("--json", json, &inputs)?;
            }
            if let Some(plan) = &args.plan {
                if args.json.is_some() || args.peers.is_some() {
                    anyhow::bail!(
                        "--plan writes the plan and times nothing, so --json and --peers would \
                         be ignored; run the bench without --plan for them"
                    );
                }
                checks::single_output("--plan", plan, &[("--a9a".into(), args.a9a.clone())])?;
            }
            bench::bench(open(cli.adapter.as_deref())?, &args).map(|()| 0)
        }
        Command::Plot(args) => plot::plot(&args).map(|()| 0),
        Command::Merge(args) => {
            let mut inputs = Vec::new();
            for shard in &args.shards {
                inputs.push(("a shard".to_owned(), shard.clone()));
                inputs.push((
                    "a shard's manifest".to_owned(),
                    langevin::shard::manifest_path(shard),
                ));
            }
            checks::single_output("--out", &args.out, &inputs)?;
            langevin::shard::merge(&args.shards, &args.out)?;
            say!(
                "{}: {} shards joined",
                args.out.display(),
                args.shards.len()
            );
            Ok(0)
        }
    }
}

/// Opens the adapter and prints it first, so every output names where it ran.
fn open(name: Option<&str>) -> Result<Gpu> {
    let gpu = Gpu::new(name.filter(|n| !n.trim().is_empty()))?;
    say!("adapter: {}", gpu.describe());
    Ok(gpu)
}
