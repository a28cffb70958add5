//! `gateway`: parses settings, starts the gateway, prints one ready line on
//! stdout and runs until SIGINT/SIGTERM, or until the SIP core dies (exit
//! status 70, the reason on stderr).

use std::process::ExitCode;

use clap::Parser;
use gateway::config::{Args, Config};

/// The exit status when the SIP core has died (EX_SOFTWARE, sysexits.h);
/// 1 is a failed start, 2 a bad setting.
const EXIT_CORE_STOPPED: i32 = 70;

/// mimalloc, not glibc's malloc: glibc kept what the password hashing
/// (19 MiB a run) freed in per-thread arenas, hundreds of MB after a burst
/// of sign-ins; mimalloc returns it to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let check_only = args.check_config;
    let backup_to = args.backup_to.clone();
    let restore_from = args.restore_from.clone();
    let config = match Config::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(2);
        }
    };
    if check_only {
        println!("{}", config.summary());
        println!("configuration is valid");
        return ExitCode::SUCCESS;
    }
    if backup_to.is_some() || restore_from.is_some() {
        return backup_or_restore(&config, backup_to, restore_from).await;
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log_level))
        .with_writer(std::io::stderr);
    if config.log_json {
        logs.json().init();
    } else {
        logs.init();
    }

    let running = match gateway::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(1);
        }
    };
    if running.first_start {
        match &running.first_start_credentials {
            Some(path) => eprintln!(
                "First start: created accounts `admin` and `demo` (agent); their passwords are in {}",
                path.display()
            ),
            None => eprintln!(
                "First start: created accounts `admin` and `demo` (agent) with the passwords from \
                 GATEWAY_ADMIN_PASSWORD / GATEWAY_DEMO_PASSWORD"
            ),
        }
    }
    eprintln!(
        "Open {}://{} in a browser and sign in as `demo` to use the phone.",
        if running.https { "https" } else { "http" },
        running.http
    );
    let mut optional = String::new();
    for (name, addr) in [
        ("sip_tls", running.sip_tls),
        ("sip_udp6", running.sip_udp6),
        ("sip_tcp6", running.sip_tcp6),
        ("metrics", running.metrics),
    ] {
        if let Some(addr) = addr {
            optional.push_str(&format!(" {name}={addr}"));
        }
    }
    println!(
        "gateway ready http={} sip_udp={} sip_tcp={}{optional}",
        running.http, running.sip_udp, running.sip_tcp
    );

    tokio::select! {
        () = wait_for_signal() => {}
        why = running.core_stopped() => {
            // A dead SIP core behind a live HTTP server would take sign-ins
            // and show agents a phone that cannot ring: exit, so that the
            // service manager restarts us. `process::exit`, not a return:
            // dropping the runtime would wait for blocking tasks first.
            eprintln!("gateway: {why}; exiting");
            std::process::exit(EXIT_CORE_STOPPED);
        }
    }
    eprintln!("gateway: shutting down (calls in progress may finish; signal again to stop now)");
    tokio::select! {
        () = running.shutdown() => {}
        () = wait_for_signal() => eprintln!("gateway: second signal; stopping now"),
    }
    ExitCode::SUCCESS
}

/// `--backup-to` / `--restore-from`: one line on stdout when done, the
/// reason on stderr and exit 1 when not.
async fn backup_or_restore(
    config: &Config,
    backup_to: Option<std::path::PathBuf>,
    restore_from: Option<std::path::PathBuf>,
) -> ExitCode {
    let database = match gateway::backup::database_file(&config.database_url) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(1);
        }
    };
    let done = match (backup_to, restore_from) {
        (Some(to), _) => gateway::backup::backup(&database, &to)
            .await
            .map(|checked| format!("backup written: {checked}")),
        (None, Some(from)) => gateway::backup::restore(&config.data_dir, &database, &from)
            .await
            .map(|(checked, kept)| match kept {
                Some(kept) => format!(
                    "restored {checked}; the previous database is kept as {}",
                    kept.display()
                ),
                None => format!("restored {checked}"),
            }),
        (None, None) => return ExitCode::SUCCESS,
    };
    match done {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gateway: {e}");
            ExitCode::from(1)
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
