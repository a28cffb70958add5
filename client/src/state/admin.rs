//! The admin pages' models, pure and tested natively: a paginated list
//! ([`Paged`]), a form with field-level errors ([`Form`]), the conversions
//! between API types and form values ([`forms`]), the carrier presets'
//! values ([`presets`]), the caller-ID editor
//! ([`caller_ids`]), query strings ([`query`]), a carrier's health
//! ([`status`]) and the banned sources ([`security`]).

pub mod caller_ids;
pub mod forms;
pub mod policy;
pub mod presets;
pub mod query;
pub mod security;
pub mod status;

use std::collections::BTreeMap;
use std::rc::Rc;

use shared::api::Page;
use yew::Reducible;

/// One list as a page shows it: the items loaded so far, a page at a time
/// ("More"). `key` names the request the items belong to (path and a reload
/// generation), so a late answer to an older request is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub key: String,
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    pub loading: bool,
    pub error: Option<String>,
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Paged {
            key: String::new(),
            items: Vec::new(),
            next_cursor: None,
            loading: false,
            error: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PagedAction<T> {
    /// A request went out: the first page (`append: false`) or the next.
    Start {
        key: String,
    },
    Loaded {
        key: String,
        page: Page<T>,
        append: bool,
    },
    Failed {
        key: String,
        message: String,
    },
}

impl<T: Clone> Reducible for Paged<T> {
    type Action = PagedAction<T>;

    fn reduce(self: Rc<Self>, action: PagedAction<T>) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            PagedAction::Start { key } => {
                next.key = key;
                next.loading = true;
                next.error = None;
            }
            PagedAction::Loaded { key, page, append } if key == self.key => {
                if append {
                    next.items.extend(page.items);
                } else {
                    next.items = page.items;
                }
                next.next_cursor = page.next_cursor;
                next.loading = false;
                next.error = None;
            }
            PagedAction::Failed { key, message } if key == self.key => {
                next.loading = false;
                next.error = Some(message);
            }
            // An answer to a request that was replaced.
            _ => return self,
        }
        Rc::new(next)
    }
}

/// Why a form was not saved: the field at fault, when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormFailure {
    pub field: Option<String>,
    pub message: String,
}

impl FormFailure {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        FormFailure {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

impl From<crate::api::ApiFailure> for FormFailure {
    fn from(failure: crate::api::ApiFailure) -> Self {
        FormFailure {
            field: failure.field,
            message: failure.message,
        }
    }
}

/// A form's values by field name (the JSON field names), with the state of
/// its last submission. Check boxes hold `"true"` or `"false"`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Form {
    pub values: BTreeMap<String, String>,
    /// The item being edited; `None`: a new one.
    pub editing: Option<i64>,
    pub busy: bool,
    pub failure: Option<FormFailure>,
    /// What the last save did, in words ("Saved.").
    pub done: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FormAction {
    Set(String, String),
    /// Fresh values: a new item (`editing: None`) or one to edit.
    Load {
        values: BTreeMap<String, String>,
        editing: Option<i64>,
    },
    Submitted,
    Failed(FormFailure),
    /// Saved: the form takes `values` and says `message`.
    Saved {
        values: BTreeMap<String, String>,
        editing: Option<i64>,
        message: String,
    },
}

impl Form {
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Form {
            values,
            ..Form::default()
        }
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn checked(&self, name: &str) -> bool {
        self.value(name) == "true"
    }

    /// The message for `name`, when the last failure was about it.
    pub fn error(&self, name: &str) -> Option<&str> {
        self.failure
            .as_ref()
            .filter(|f| f.field.as_deref() == Some(name))
            .map(|f| f.message.as_str())
    }

    /// The message of a failure that no field of this form shows.
    pub fn general_error(&self) -> Option<&str> {
        self.failure
            .as_ref()
            .filter(|f| {
                f.field
                    .as_deref()
                    .is_none_or(|field| !self.values.contains_key(field))
            })
            .map(|f| f.message.as_str())
    }
}

impl Reducible for Form {
    type Action = FormAction;

    fn reduce(self: Rc<Self>, action: FormAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            FormAction::Set(name, value) => {
                // Editing the field at fault takes its message away.
                if next.error(&name).is_some() {
                    next.failure = None;
                }
                next.done = None;
                next.values.insert(name, value);
            }
            FormAction::Load { values, editing } => {
                next = Form {
                    values,
                    editing,
                    ..Form::default()
                };
            }
            FormAction::Submitted => {
                next.busy = true;
                next.failure = None;
                next.done = None;
            }
            FormAction::Failed(failure) => {
                next.busy = false;
                next.failure = Some(failure);
            }
            FormAction::Saved {
                values,
                editing,
                message,
            } => {
                next = Form {
                    values,
                    editing,
                    done: Some(message),
                    ..Form::default()
                };
            }
        }
        Rc::new(next)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn page(items: &[u32], next: Option<&str>) -> Page<u32> {
        Page {
            items: items.to_vec(),
            next_cursor: next.map(str::to_owned),
        }
    }

    fn run<S: Reducible>(start: S, actions: impl IntoIterator<Item = S::Action>) -> Rc<S> {
        let mut state = Rc::new(start);
        for action in actions {
            state = state.reduce(action);
        }
        state
    }

    #[test]
    fn pages_append_and_a_new_request_replaces() {
        let key = |k: &str| k.to_owned();
        let list = run(
            Paged::<u32>::default(),
            [
                PagedAction::Start { key: key("a") },
                PagedAction::Loaded {
                    key: key("a"),
                    page: page(&[1, 2], Some("2")),
                    append: false,
                },
                PagedAction::Start { key: key("a") },
                PagedAction::Loaded {
                    key: key("a"),
                    page: page(&[3], None),
                    append: true,
                },
            ],
        );
        assert_eq!(list.items, [1, 2, 3]);
        assert_eq!(list.next_cursor, None);
        assert!(!list.loading);

        // Filters changed while the old answer was on its way.
        let list = run(
            (*list).clone(),
            [
                PagedAction::Start { key: key("b") },
                PagedAction::Loaded {
                    key: key("a"),
                    page: page(&[9], None),
                    append: false,
                },
            ],
        );
        assert_eq!(list.items, [1, 2, 3]);
        assert!(list.loading);
        let list = list.reduce(PagedAction::Failed {
            key: key("b"),
            message: "Your role may not do this.".to_owned(),
        });
        assert_eq!(list.error.as_deref(), Some("Your role may not do this."));
        assert!(!list.loading);
    }

    #[test]
    fn field_errors_go_next_to_their_field_and_leave_when_it_changes() {
        let values: BTreeMap<String, String> = [("host", "sip.example.com"), ("port", "0")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let form = run(
            Form::new(values),
            [
                FormAction::Submitted,
                FormAction::Failed(FormFailure::field(
                    "port",
                    "The port must be between 1 and 65535.",
                )),
            ],
        );
        assert_eq!(
            form.error("port"),
            Some("The port must be between 1 and 65535.")
        );
        assert_eq!(form.error("host"), None);
        assert_eq!(form.general_error(), None);
        assert!(!form.busy);
        // Another field: the message stays.
        let form = form.reduce(FormAction::Set("host".into(), "sip.example.net".into()));
        assert!(form.error("port").is_some());
        let form = form.reduce(FormAction::Set("port".into(), "5060".into()));
        assert_eq!(form.error("port"), None);
        assert_eq!(form.value("port"), "5060");
    }

    #[test]
    fn failures_without_a_shown_field_are_general() {
        let form = Rc::new(Form::new(BTreeMap::new())).reduce(FormAction::Failed(FormFailure {
            field: Some("limit".to_owned()),
            message: "limit must be between 1 and 500.".to_owned(),
        }));
        assert_eq!(
            form.general_error(),
            Some("limit must be between 1 and 500.")
        );
        let form = Rc::new(Form::new(BTreeMap::new())).reduce(FormAction::Failed(FormFailure {
            field: None,
            message: "Sign in first.".to_owned(),
        }));
        assert_eq!(form.general_error(), Some("Sign in first."));
    }
}
