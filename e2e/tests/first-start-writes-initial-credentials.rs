//! On its first start without GATEWAY_ADMIN_PASSWORD / GATEWAY_DEMO_PASSWORD
//! the gateway makes up passwords for `admin` and `demo`, writes them to
//! `<data-dir>/initial-credentials.txt` readable by its owner only, and never
//! to the log; a restart on the same data keeps the accounts as they are.

use anyhow::{Context, Result, anyhow, ensure};
use e2e::{Gateway, GatewayOptions};
use shared::api::Role;

/// `user<TAB>password` lines after a `#` comment.
fn password_of(file: &str, user: &str) -> Result<String> {
    file.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(user)).then(|| words.next().map(str::to_owned))?
        })
        .ok_or_else(|| anyhow!("no password for {user} in initial-credentials.txt:\n{file}"))
}

#[tokio::test]
async fn first_start_writes_private_initial_credentials() -> Result<()> {
    let mut gateway = Gateway::start_with(GatewayOptions {
        known_passwords: false,
        ..GatewayOptions::default()
    })
    .await?;
    let path = gateway.data_dir().join("initial-credentials.txt");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("the first start wrote no {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
        ensure!(
            mode == 0o600,
            "{} has mode {mode:o}, not 600",
            path.display()
        );
    }
    let admin = password_of(&text, "admin")?;
    let demo = password_of(&text, "demo")?;
    ensure!(admin != demo, "admin and demo got the same password");
    ensure!(
        admin.len() >= 12 && demo.len() >= 12,
        "generated passwords are short"
    );

    let signed_in = gateway.sign_in("demo", &demo).await?;
    ensure!(
        signed_in.info.account.role == Role::Agent
            && signed_in.info.account.display_name == "Demo Agent",
        "{:?}",
        signed_in.info.account
    );
    let signed_in = gateway.sign_in("admin", &admin).await?;
    ensure!(
        signed_in.info.account.role == Role::Admin,
        "{:?}",
        signed_in.info.account
    );

    let log = gateway.log();
    ensure!(
        log.contains(&path.display().to_string()),
        "the console does not say where the passwords are:\n{log}"
    );
    ensure!(
        !log.contains(&admin) && !log.contains(&demo),
        "a generated password appears in the log"
    );

    // The same data again: nothing is re-created, the passwords still work.
    gateway.restart().await?;
    let again = std::fs::read_to_string(&path)?;
    ensure!(again == text, "the restart rewrote initial-credentials.txt");
    gateway.sign_in("demo", &demo).await?;
    gateway.check_alive()
}
