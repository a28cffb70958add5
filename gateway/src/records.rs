//! Call records on their way to the database: one writer task stores them
//! in order, and when the database refuses (locked by another process, disk
//! full, a read-only file) it keeps them and tries again — calls go on,
//! nothing is dropped while the trouble lasts.
//!
//! ```text
//!  driver ──submit──► queue (≤ MAX_WAITING) ──insert──► SQLite
//!                        │  ▲                    │ error
//!                        │  └── retry after 1 s, 2 s … 30 s ◄┘
//!                        └─ status: waiting count, failing since, why
//! ```
//!
//! While writes fail, `GET /healthz` says `degraded` with the count and the
//! error, and one `gateway alert: kind=records_delayed` line is logged; once
//! they succeed again, a `records_delayed` alert is stored (the admin pages
//! and the `alert.raised` webhook show it) saying how long and how many.
//! At shutdown the writer gets until the driver's deadline; records it still
//! holds then are logged as JSON lines (`call record not written`) so that
//! an operator can put them back.
//!
//! A gateway killed outright (SIGKILL, power loss) keeps no memory, so each
//! call's record so far is also written when it starts and when it is
//! answered (`calls_in_progress`, best effort: a refusing database skips
//! it, and further notes are skipped while records wait or for 30 s after
//! a refusal, so that they never hold the queue up), its `seen_at` refreshed every 30 s while the gateway runs, and the
//! row deleted once the final record is stored. At the next start
//! [`recover_interrupted`] turns what is left into records that end when
//! the gateway was last seen running, saying so.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::api::{CallRecord, FraudLimits};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::db::Db;
use crate::transport::{CoreInput, SipHandle, now};

/// Records kept at most while the database refuses them (about 1 KB each);
/// beyond that the oldest is logged and let go, so that a database down
/// for days cannot exhaust memory.
pub const MAX_WAITING: usize = 100_000;
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// How often the calls in progress are marked as still running.
const SEEN_EVERY: Duration = Duration::from_secs(30);
/// How long call-in-progress notes are skipped after the database refused one.
const NOTES_PAUSE: Duration = Duration::from_secs(30);

/// At start: records for the calls a previous run was killed in the middle
/// of. Each ends when that run was last seen (at most 30 s before it
/// died), hung up by the gateway, with a reason that says so. Returns how
/// many were recorded.
pub async fn recover_interrupted(db: &Db) -> Result<usize, crate::db::DbError> {
    let mut recorded = 0;
    for (json, seen_at) in crate::db::interrupted_calls(db).await? {
        let Ok(mut record) = serde_json::from_str::<CallRecord>(&json) else {
            warn!(record = %json, "an interrupted call's record could not be read");
            continue;
        };
        let id = record.id.clone();
        let ended_ms = (seen_at * 1000).max(record.answered_at.unwrap_or(record.invite_at));
        record.ended_at = ended_ms;
        record.duration_s = record
            .answered_at
            .map_or(0, |a| (ended_ms - a).max(0) / 1000);
        if record.final_code == 0 {
            record.final_code = if record.answered_at.is_some() {
                200
            } else {
                503
            };
        }
        record.final_reason = "The gateway stopped during the call (killed or crashed); \
            it ended at most 30 s after this time"
            .to_owned();
        record.hangup_by = shared::api::HangupBy::Gateway;
        crate::db::insert_call_record(db, &record).await?;
        crate::db::delete_in_progress(db, &id).await?;
        recorded += 1;
    }
    Ok(recorded)
}
const LAST_RETRY: Duration = Duration::from_secs(30);

/// How the writer is doing, for `/healthz`.
#[derive(Debug, Clone, Default)]
pub struct RecordStatus(Arc<StatusInner>);

#[derive(Debug, Default)]
struct StatusInner {
    waiting: AtomicUsize,
    /// Since when (Unix seconds) writes fail, and the last error.
    failing: Mutex<Option<(i64, String)>>,
}

impl RecordStatus {
    /// Records not yet stored.
    pub fn waiting(&self) -> usize {
        self.0.waiting.load(Ordering::Relaxed)
    }

    /// The database's last refusal while writes fail.
    pub fn problem(&self) -> Option<String> {
        self.failing().map(|(_, why)| why)
    }

    fn failing(&self) -> Option<(i64, String)> {
        self.0
            .failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_failing(&self, value: Option<(i64, String)>) {
        *self.0.failing.lock().unwrap_or_else(|p| p.into_inner()) = value;
    }
}

/// A record and what counting it against today's limits needs.
struct Job {
    record: Box<CallRecord>,
    limits: FraudLimits,
    home: String,
}

enum Message {
    Record(Job),
    /// A call's record so far (started, answered).
    InProgress(Box<CallRecord>),
    /// Store what is queued until `deadline`, then answer.
    Flush {
        deadline: Instant,
        done: oneshot::Sender<()>,
    },
}

/// The driver's end of the writer.
#[derive(Debug, Clone)]
pub struct RecordWriter {
    tx: mpsc::UnboundedSender<Message>,
    status: RecordStatus,
}

impl RecordWriter {
    /// Starts the writer task; `handle` carries limits reached back to the
    /// driver and alerts to their subscribers.
    pub fn spawn(db: Db, handle: SipHandle, status: RecordStatus) -> RecordWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, handle, status.clone(), rx));
        RecordWriter { tx, status }
    }

    /// Queues `record`; it is stored in the order submitted.
    pub fn submit(&self, record: Box<CallRecord>, limits: FraudLimits, home: String) {
        self.status.0.waiting.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            record,
            limits,
            home,
        };
        if let Err(mpsc::error::SendError(Message::Record(job))) =
            self.tx.send(Message::Record(job))
        {
            self.status.0.waiting.fetch_sub(1, Ordering::Relaxed);
            lost(&job.record, "the record writer has stopped");
        }
    }

    /// Keeps `record` (a call just started or answered) in
    /// `calls_in_progress` until its final record is stored.
    pub fn in_progress(&self, record: Box<CallRecord>) {
        let _ = self.tx.send(Message::InProgress(record));
    }

    /// Waits until every record submitted so far is stored, or `deadline`.
    pub async fn flush(&self, deadline: Instant) {
        let (done, stored) = oneshot::channel();
        if self.tx.send(Message::Flush { deadline, done }).is_ok() {
            let _ = tokio::time::timeout_at(deadline + Duration::from_millis(200), stored).await;
        }
    }
}

async fn run(
    db: Db,
    handle: SipHandle,
    status: RecordStatus,
    mut rx: mpsc::UnboundedReceiver<Message>,
) {
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut heartbeat = tokio::time::interval(SEEN_EVERY);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut flushes: Vec<(Instant, oneshot::Sender<()>)> = Vec::new();
    let mut retry = FIRST_RETRY;
    let mut next_try = Instant::now();
    let mut failed_count = 0usize;
    // The driver is gone: only the queue is left to store.
    let mut closed = false;
    // When a call-in-progress note was last refused by the database.
    let mut notes_refused_at: Option<Instant> = None;
    loop {
        // Take what has arrived; wait only when there is nothing to do.
        let idle = queue.is_empty() && flushes.is_empty();
        let message = if idle {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => Some(m),
                    None => return,
                },
                _ = heartbeat.tick() => {
                    if let Err(e) = crate::db::touch_in_progress(&db, now().unix).await {
                        tracing::debug!("calls in progress not touched: {e}");
                    }
                    continue;
                }
            }
        } else if Instant::now() < next_try {
            let wake = flushes.iter().map(|(d, _)| *d).fold(next_try, Instant::min);
            tokio::select! {
                m = rx.recv(), if !closed => {
                    closed = m.is_none();
                    m
                }
                () = tokio::time::sleep_until(wake) => None,
            }
        } else {
            rx.try_recv().ok()
        };
        match message {
            Some(Message::Record(job)) => {
                queue.push_back(job);
                if status.failing().is_some() {
                    failed_count = failed_count.max(queue.len());
                }
                if queue.len() > MAX_WAITING
                    && let Some(oldest) = queue.pop_front()
                {
                    status.0.waiting.fetch_sub(1, Ordering::Relaxed);
                    lost(&oldest.record, "more records waiting than can be kept");
                }
                continue;
            }
            Some(Message::Flush { deadline, done }) => {
                flushes.push((deadline, done));
                continue;
            }
            Some(Message::InProgress(record)) => {
                // Best effort: while the database refuses writes, each try
                // would hold the queue for the busy timeout (5 s), so notes
                // are skipped until records are stored again, and for
                // NOTES_PAUSE after a note itself was refused.
                let paused = notes_refused_at.is_some_and(|at| at.elapsed() < NOTES_PAUSE);
                if paused || status.failing().is_some() {
                    tracing::debug!(call = %record.id, "call in progress not noted: the database refuses writes");
                    continue;
                }
                let json = serde_json::to_string(&record).unwrap_or_default();
                match crate::db::upsert_in_progress(&db, &record.id, &json, now().unix).await {
                    Ok(()) => notes_refused_at = None,
                    Err(e) => {
                        tracing::debug!(call = %record.id, "call in progress not noted: {e}");
                        notes_refused_at = Some(Instant::now());
                    }
                }
                continue;
            }
            None => {}
        }
        if Instant::now() >= next_try
            && let Some(job) = queue.front()
        {
            let attempt_at = now().unix;
            match crate::db::insert_call_record(&db, &job.record).await {
                Ok(cost) => {
                    let Some(mut job) = queue.pop_front() else {
                        continue;
                    };
                    status.0.waiting.fetch_sub(1, Ordering::Relaxed);
                    job.record.estimated_cost = cost;
                    if let Err(e) = crate::db::delete_in_progress(&db, &job.record.id).await {
                        tracing::debug!(call = %job.record.id, "in-progress row left: {e}");
                    }
                    count_quality(&db, &handle, &job.record).await;
                    count_limits(&db, &handle, &job).await;
                    if let Some((since, why)) = status.failing() {
                        status.set_failing(None);
                        recovered(&db, &handle, since, &why, failed_count).await;
                        failed_count = 0;
                    }
                    retry = FIRST_RETRY;
                }
                Err(e) => {
                    let why = e.to_string();
                    if status.failing().is_none() {
                        warn!(
                            waiting = queue.len(),
                            "gateway alert: kind=records_delayed call records cannot be \
                             written to the database ({why}); they are kept and retried"
                        );
                        status.set_failing(Some((attempt_at, why)));
                    } else {
                        status.set_failing(status.failing().map(|(since, _)| (since, why)));
                    }
                    failed_count = failed_count.max(queue.len());
                    next_try = Instant::now() + retry;
                    retry = (retry * 2).min(LAST_RETRY);
                }
            }
        }
        // Flushes answered once the queue is empty or their time is up.
        let now_t = Instant::now();
        let empty = queue.is_empty();
        let mut i = 0;
        while i < flushes.len() {
            if empty || flushes[i].0 <= now_t {
                let (_, done) = flushes.swap_remove(i);
                if !empty {
                    for job in &queue {
                        lost(
                            &job.record,
                            "the gateway is stopping and the database refuses it",
                        );
                    }
                }
                let _ = done.send(());
            } else {
                i += 1;
            }
        }
    }
}

/// Counts the stored record against today's limits; a limit newly
/// reached goes back to the driver.
async fn count_limits(db: &Db, handle: &SipHandle, job: &Job) {
    let today = crate::transport::utc_day(now().unix_ms);
    match crate::limits::reached(db, &job.limits, &job.home, today.start, Some(&job.record)).await {
        Ok(reached) if !reached.is_empty() => {
            handle.send(CoreInput::LimitsReached(reached)).await;
        }
        Ok(_) => {}
        Err(e) => warn!("daily limits not counted: {e}"),
    }
}

/// The carrier's quality rows, then its threshold (an alert at most once
/// an hour).
async fn count_quality(db: &Db, handle: &SipHandle, record: &CallRecord) {
    if let Err(e) = crate::db::record_carrier_quality(db, record).await {
        warn!(call = %record.id, "carrier quality not counted: {e}");
    }
    match crate::db::quality_alert(db, record, now().unix).await {
        Ok(Some(message)) => raise(db, handle, "quality", &message).await,
        Ok(None) => {}
        Err(e) => warn!("quality threshold not checked: {e}"),
    }
}

/// An alert: the `gateway alert:` log line, stored, then published.
async fn raise(db: &Db, handle: &SipHandle, kind: &str, message: &str) {
    warn!(kind, "gateway alert: kind={kind} {message}");
    match crate::db::insert_alert(db, now().unix, kind, None, message).await {
        Ok(alert) => handle.alerts().publish(alert),
        Err(e) => warn!("alert not stored: {e}"),
    }
}

/// Writes work again: the admins hear how long they did not, and that
/// nothing was lost.
async fn recovered(db: &Db, handle: &SipHandle, since: i64, why: &str, kept: usize) {
    let secs = now().unix.saturating_sub(since);
    let kept = match kept {
        1 => "1 record was".to_owned(),
        n => format!("{n} records were"),
    };
    let message = format!(
        "Call records could not be written to the database for {secs} s ({why}); \
         {kept} kept meanwhile and now stored."
    );
    info!("{message}");
    raise(db, handle, "records_delayed", &message).await;
}

/// A record given up: its JSON goes to the log, the last place it can be
/// recovered from.
fn lost(record: &CallRecord, why: &str) {
    let json = serde_json::to_string(record).unwrap_or_default();
    error!(call = %record.id, record = %json, "call record not written: {why}");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_status_reads_what_the_writer_sets() {
        let status = RecordStatus::default();
        assert_eq!((status.waiting(), status.problem()), (0, None));
        status.0.waiting.fetch_add(3, Ordering::Relaxed);
        status.set_failing(Some((10, "database is locked".to_owned())));
        assert_eq!(status.waiting(), 3);
        assert_eq!(status.problem().as_deref(), Some("database is locked"));
    }
}
