//! Code that both sides of the product compile: the gateway (native) and the
//! browser client (`wasm32-unknown-unknown`).
//!
//! Nothing here does I/O, reads the clock or spawns tasks: time comes in as an
//! argument (`now`), bytes come in as slices, and what must be sent comes out
//! of `poll_*` methods. The gateway's tokio shell and the client's browser
//! shell drive the same state machines.
//!
//! - [`sip`]: the SIP message layer (a normalising front end before rsip,
//!   request validation, responses, digest authentication), the RFC 3261 §17
//!   transaction state machines and the client registration state machine.
//! - [`api`]: the JSON types of the REST API, shared so that the client and
//!   the gateway cannot drift apart.
//! - [`ids`]: typed ids (`AccountId`, `CarrierId`, `CallId`), bare integers
//!   in JSON.
//! - [`e164`]: phone number normalisation to E.164 with a default country.
//! - [`destination`]: where a number goes (the NANP read by area code,
//!   other countries by calling code) and what kind it is (premium,
//!   toll-free, satellite, high-risk, from the plan and the shipped prefix
//!   list `data/high_risk_prefixes.tsv`).
//! - [`carrier_presets`]: what Twilio, Telnyx, Vonage and Bandwidth document
//!   for a trunk (`data/carrier-presets.json`), for the carrier form.
//! - [`policy`]: who may call where ([`policy::DestinationPolicy`]), checked
//!   by the gateway before any carrier sees a call and by the phone before
//!   the agent dials.
//! - [`quality`]: what a receiver of an RTP stream measures (RFC 3550 loss
//!   and jitter) and the ITU-T G.107 E-model's MOS estimate from it.
#![forbid(unsafe_code)]

pub mod api;
pub mod carrier_presets;
pub mod destination;
pub mod e164;
#[doc(hidden)]
pub mod fuzz;
pub mod ids;
pub mod policy;
pub mod quality;
pub mod rates;
pub mod sip;
