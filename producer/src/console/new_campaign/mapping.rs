//! seven's template parameters mapped to the uploaded file's columns: one select per
//! parameter (`body_2` for the body's `{{2}}`) once the console knows both the template's
//! parameter counts (the templates file) and the file's header, what those selects start with,
//! and reading them back. Without either (no templates file, a template typed by hand, no
//! file yet) the form keeps the flags' typed comma lists (`--body name,order_id`).

use std::collections::{HashMap, HashSet};

use wacast_shared::render::normalise_column;

use crate::ingest::csv_import::PHONE_HEADERS;
use crate::ingest::templates::Approved;

/// The hidden field naming the template the selects were shown for: columns chosen for one
/// template are not taken for another (changing the template asks for its columns again).
pub(crate) const MAPPED_FOR: &str = "mapped_for";

/// A template component whose parameters take columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Component {
    Header,
    Body,
    Button,
}

impl Component {
    pub(crate) const ALL: [Component; 3] = [Component::Header, Component::Body, Component::Button];

    /// Its flag's name without the dashes: the typed list's field, the selects' prefix.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Component::Header => "header",
            Component::Body => "body",
            Component::Button => "button",
        }
    }

    /// Its parameters in `approved`.
    fn count(self, approved: &Approved) -> usize {
        match self {
            Component::Header => approved.header,
            Component::Body => approved.body,
            Component::Button => approved.buttons,
        }
    }

    /// The select of its parameter `i` (from 0): `body_2` for the body's `{{2}}`.
    pub(crate) fn field(self, i: usize) -> String {
        format!("{}_{}", self.name(), i + 1)
    }

    /// Its parameter `i` (from 0) as the operator knows it: `Body {{2}}`, `Button 1`.
    pub(crate) fn label(self, i: usize) -> String {
        match self {
            Component::Header => format!("Header {{{{{}}}}}", i + 1),
            Component::Body => format!("Body {{{{{}}}}}", i + 1),
            Component::Button => format!("Button {}", i + 1),
        }
    }
}

/// The templates file's entry for `template` (`name|language`).
pub(crate) fn approved<'a>(template: &str, templates: &'a [Approved]) -> Option<&'a Approved> {
    templates
        .iter()
        .find(|t| template.split_once('|') == Some((t.name.as_str(), t.language.as_str())))
}

/// How many parameters `approved` has in all.
pub(crate) fn n_parameters(approved: &Approved) -> usize {
    Component::ALL.iter().map(|c| c.count(approved)).sum()
}

/// The columns filling the template's parameters, per component in order; an empty name is a
/// parameter whose select was left without a column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Mapping {
    pub(crate) header: Vec<String>,
    pub(crate) body: Vec<String>,
    pub(crate) button: Vec<String>,
}

impl Mapping {
    /// Reads the form for `template`: its selects when they were shown for it, nothing when
    /// they were shown for another template, else the typed comma lists.
    pub(crate) fn from_fields(fields: &HashMap<String, String>, template: &str) -> Mapping {
        let mut mapping = Mapping::default();
        match fields.get(MAPPED_FOR).map(|t| t.trim()) {
            Some(shown_for) if shown_for != template => {}
            Some(_) => {
                for component in Component::ALL {
                    *mapping.of_mut(component) = (0..)
                        .map_while(|i| fields.get(&component.field(i)))
                        .map(|column| column.trim().to_string())
                        .collect();
                }
            }
            None => {
                for component in Component::ALL {
                    if let Some(text) = fields.get(component.name()) {
                        *mapping.of_mut(component) = comma_list(text);
                    }
                }
            }
        }
        mapping
    }

    /// The columns of `component`'s parameters.
    pub(crate) fn of(&self, component: Component) -> &[String] {
        match component {
            Component::Header => &self.header,
            Component::Body => &self.body,
            Component::Button => &self.button,
        }
    }

    fn of_mut(&mut self, component: Component) -> &mut Vec<String> {
        match component {
            Component::Header => &mut self.header,
            Component::Body => &mut self.body,
            Component::Button => &mut self.button,
        }
    }

    /// Whether no parameter has a column.
    pub(crate) fn is_empty(&self) -> bool {
        Component::ALL
            .iter()
            .all(|&c| self.of(c).iter().all(String::is_empty))
    }

    /// The first parameter left without a column, as the form labels it.
    pub(crate) fn unmapped(&self) -> Option<String> {
        Component::ALL.iter().find_map(|&c| {
            self.of(c)
                .iter()
                .position(String::is_empty)
                .map(|i| c.label(i))
        })
    }

    /// What the selects of `approved`'s parameters start with, from the file's `columns`: the
    /// column chosen before when the file has one of that name, else the file's next column
    /// not taken yet (the phone column left out), else none, for the operator to choose.
    pub(crate) fn proposal(
        &self,
        approved: &Approved,
        columns: &[String],
        phone_column: &str,
    ) -> Mapping {
        let phone = normalise_column(phone_column);
        let is_phone = |name: &str| {
            let name = normalise_column(name);
            if phone.is_empty() {
                PHONE_HEADERS.contains(&name.as_str())
            } else {
                name == phone
            }
        };
        let in_file = |chosen: &String| {
            let chosen = normalise_column(chosen);
            columns
                .iter()
                .find(|c| !chosen.is_empty() && normalise_column(c) == chosen)
                .cloned()
        };
        let mut proposal = Mapping::default();
        for component in Component::ALL {
            let chosen = self.of(component);
            *proposal.of_mut(component) = (0..component.count(approved))
                .map(|i| chosen.get(i).and_then(in_file).unwrap_or_default())
                .collect();
        }
        let mut taken: HashSet<String> = Component::ALL
            .iter()
            .flat_map(|&c| proposal.of(c).iter().cloned())
            .collect();
        let mut free = columns.iter().filter(|c| !is_phone(c));
        for component in Component::ALL {
            for slot in proposal.of_mut(component).iter_mut() {
                if slot.is_empty()
                    && let Some(column) = free.by_ref().find(|c| !taken.contains(*c))
                {
                    taken.insert(column.clone());
                    *slot = column.clone();
                }
            }
        }
        proposal
    }
}

/// `name, order_id` → `["name", "order_id"]`, as the flags' comma lists read.
pub(crate) fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_confirmation() -> Approved {
        Approved {
            name: "order_confirmation".into(),
            language: "de".into(),
            header: 0,
            body: 2,
            buttons: 1,
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn selects_count_for_their_own_template_only() {
        let template = "order_confirmation|de";
        let chosen = fields(&[
            (MAPPED_FOR, template),
            ("body_1", "name"),
            ("body_2", "order_id"),
            ("button_1", "order_id"),
            // A select past a gap is not one of the template's.
            ("body_4", "city"),
        ]);
        let mapping = Mapping::from_fields(&chosen, template);
        assert_eq!(mapping.body, ["name", "order_id"]);
        assert_eq!(mapping.button, ["order_id"]);
        assert!(mapping.header.is_empty());
        assert_eq!(mapping.unmapped(), None);
        // Shown for another template: nothing is taken.
        assert!(Mapping::from_fields(&chosen, "shipping|en").is_empty());
        // A select left on "choose a column" is named.
        let left = fields(&[(MAPPED_FOR, template), ("body_1", "name"), ("body_2", "")]);
        let mapping = Mapping::from_fields(&left, template);
        assert_eq!(mapping.unmapped().as_deref(), Some("Body {{2}}"));
        // Without selects, the typed lists as the flags take them.
        let typed = fields(&[("body", "name, order_id"), ("button", "order_id")]);
        let mapping = Mapping::from_fields(&typed, template);
        assert_eq!(mapping.body, ["name", "order_id"]);
        assert_eq!(mapping.button, ["order_id"]);
    }

    #[test]
    fn the_selects_start_with_the_same_names_else_the_file_s_columns_in_order() {
        let template = order_confirmation();
        let columns = strings(&["Telefon", "Name", "order_id", "city"]);
        // Nothing chosen: the columns in order, the phone column left out.
        let proposal = Mapping::default().proposal(&template, &columns, "");
        assert_eq!(proposal.body, ["Name", "order_id"]);
        assert_eq!(proposal.button, ["city"]);
        // Chosen before (by name, in any case): kept; the rest from the columns not taken.
        let chosen = Mapping {
            body: strings(&["", "ORDER ID"]),
            ..Mapping::default()
        };
        let proposal = chosen.proposal(&template, &columns, "");
        assert_eq!(proposal.body, ["Name", "order_id"]);
        assert_eq!(proposal.button, ["city"]);
        // A named phone column is left out instead; when the columns run out, none.
        let columns = strings(&["mobile", "name"]);
        let proposal = Mapping::default().proposal(&template, &columns, "name");
        assert_eq!(proposal.body, ["mobile", ""]);
        assert_eq!(proposal.button, [""]);
        assert_eq!(proposal.unmapped().as_deref(), Some("Body {{2}}"));
    }

    #[test]
    fn an_entry_of_the_templates_file_is_found_by_name_and_language() {
        let templates = [order_confirmation()];
        assert!(approved("order_confirmation|de", &templates).is_some());
        assert!(approved("order_confirmation|en", &templates).is_none());
        assert!(approved("order_confirmation", &templates).is_none());
        assert_eq!(n_parameters(&templates[0]), 3);
    }
}
