use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct AgentBadgeProps {
    pub name: AttrValue,
    pub username: AttrValue,
}

/// Who is signed in: initials and the display name (`#agent-name`).
#[function_component]
pub fn AgentBadge(props: &AgentBadgeProps) -> Html {
    html! {
        <div class="agent" title={format!("Signed in as {}", props.username)}>
            <span class="avatar" aria-hidden="true">{ initials(&props.name) }</span>
            <span id="agent-name" class="agent-name">{ props.name.clone() }</span>
        </div>
    }
}

/// Up to two initials: "Ada Lovelace" → "AL", "demo" → "D".
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let picked: Vec<&str> = match words.as_slice() {
        [] => vec![],
        [only] => vec![only],
        [first, .., last] => vec![first, last],
    };
    picked
        .iter()
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_of_first_and_last_word() {
        assert_eq!(initials("Ada King Lovelace"), "AL");
        assert_eq!(initials("  demo "), "D");
        assert_eq!(initials("élodie durand"), "ÉD");
        assert_eq!(initials(""), "");
    }
}
