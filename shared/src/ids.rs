//! Typed ids for the things a call names, so that an account's id cannot be
//! passed where a carrier's is expected. In JSON and in SQL they are the bare
//! integers (`#[serde(transparent)]`, and `sqlx(transparent)` with the
//! `sqlx` feature the gateway turns on); the types exist only for the compiler.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$inner> for $name {
            fn from(raw: $inner) -> Self {
                Self(raw)
            }
        }
    };
}

id!(
    /// An account (agent or admin): the `accounts` table's row id.
    AccountId(i64)
);
id!(
    /// A carrier trunk: the `carriers` table's row id.
    CarrierId(i64)
);
id!(
    /// A call in progress inside the gateway: the B2BUA's handle for it,
    /// shared with the media relay. Not the SIP Call-ID (each leg has its
    /// own) and not the call record's id.
    CallId(u64)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bare_numbers_in_json() {
        assert_eq!(
            serde_json::to_string(&AccountId(7)).ok().as_deref(),
            Some("7")
        );
        assert_eq!(
            serde_json::from_str::<CarrierId>("12").ok(),
            Some(CarrierId(12))
        );
        assert_eq!(CallId(3).to_string(), "3");
    }
}
