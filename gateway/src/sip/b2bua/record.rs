//! Call records, built in one place: every call (outbound or inbound,
//! refused or completed) ends in exactly one [`CallRecord`], made here and
//! filled in as the call goes.

use shared::api::{CallAttempt, CallDirection, CallRecord, HangupBy, LiveCall, LiveCallState};
use shared::ids::CarrierId;

use super::port::MediaCounts;
use super::route::AgentInfo;
use crate::sip::Now;

/// A new record: `id` is unique (time and a random token), nothing has
/// happened yet but the INVITE.
pub fn new(id: String, direction: CallDirection, now: &Now) -> CallRecord {
    CallRecord {
        id,
        direction,
        account_id: None,
        agent: None,
        caller_id: None,
        dialled: String::new(),
        carrier_id: None,
        carrier: None,
        invite_at: now.unix_ms,
        ringing_at: None,
        answered_at: None,
        ended_at: 0,
        duration_s: 0,
        final_code: 0,
        final_reason: String::new(),
        hangup_by: HangupBy::Gateway,
        packets_to_carrier: 0,
        bytes_to_carrier: 0,
        packets_from_carrier: 0,
        bytes_from_carrier: 0,
        attempts: Vec::new(),
        estimated_cost: None,
        campaign_id: None,
        destination_country: None,
        quality: None,
    }
}

/// A new record of an agent's outbound call to `dialled` (as typed, until
/// it is normalised).
pub fn outbound(id: String, agent: &AgentInfo, dialled: String, now: &Now) -> CallRecord {
    let mut record = new(id, CallDirection::Outbound, now);
    record.account_id = Some(agent.account_id);
    record.agent = Some(agent.username.clone());
    record.dialled = dialled;
    record
}

/// What `CallRecord::destination_country` holds for `number`: its
/// country (ISO 3166 alpha-2, the NANP read by area code), or `+<code>`
/// for a code no country owns (`+881` satellite, `+800` freephone); `None`
/// for NANP-wide numbers (8xx, 900), which are not international inside
/// the NANP.
pub fn country_key(number: &shared::e164::E164) -> Option<String> {
    let destination = shared::destination::classify(number);
    match destination.iso {
        Some(iso) => Some(iso.to_owned()),
        None if destination.is_nanp_shared() => None,
        None => Some(format!("+{}", destination.place_prefix)),
    }
}

/// The final status, kept only when none was set before (the first reason
/// a call ended for is the one that counts).
pub fn set_final(record: &mut CallRecord, code: u16, reason: &str, by: HangupBy) {
    if record.final_code == 0 {
        record.final_code = code;
        record.final_reason = reason.to_owned();
        record.hangup_by = by;
    }
}

/// Ends the record of a call refused or failed before it started: final
/// status now, no duration.
pub fn refused(mut record: CallRecord, now: &Now, code: u16, reason: &str) -> CallRecord {
    record.ended_at = now.unix_ms;
    record.final_code = code;
    record.final_reason = reason.to_owned();
    record
}

/// One carrier attempt (failover keeps them all).
pub fn attempt(
    record: &mut CallRecord,
    carrier_id: CarrierId,
    carrier: &str,
    code: u16,
    reason: &str,
    at: i64,
) {
    record.attempts.push(CallAttempt {
        carrier_id: Some(carrier_id),
        carrier: carrier.to_owned(),
        code,
        reason: reason.to_owned(),
        at,
    });
}

/// Signalling ended now: end time, talk time, and a final status if the
/// call somehow got none.
pub fn close(record: &mut CallRecord, now: &Now) {
    record.ended_at = now.unix_ms;
    if let Some(answered) = record.answered_at {
        record.duration_s = (record.ended_at - answered).max(0) / 1000;
    }
    if record.final_code == 0 {
        record.final_code = 500;
        record.final_reason = "Server Internal Error".to_owned();
    }
}

/// The media's counts into a call's record.
pub fn apply_counts(record: &mut CallRecord, counts: MediaCounts) {
    let i = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    record.packets_to_carrier = i(counts.packets_to_carrier);
    record.bytes_to_carrier = i(counts.bytes_to_carrier);
    record.packets_from_carrier = i(counts.packets_from_carrier);
    record.bytes_from_carrier = i(counts.bytes_from_carrier);
}

/// A call's record as the live view shows it.
pub fn live(record: &CallRecord, state: LiveCallState) -> LiveCall {
    LiveCall {
        id: record.id.clone(),
        direction: record.direction,
        agent: record.agent.clone(),
        caller_id: record.caller_id.clone(),
        dialled: record.dialled.clone(),
        carrier_id: record.carrier_id,
        carrier: record.carrier.clone(),
        state,
        since_ms: record.answered_at.unwrap_or(record.invite_at),
    }
}
