//! Class subsets: the `sun10` preset (the 10 SUN397 classes the iPhone app ships) and arbitrary
//! name lists, matched against SUN397's `ClassName.txt` keys (`/f/forest/broadleaf`), Hugging Face
//! label names (`forest broadleaf`) or folder names (`living_room`).
//!
//! Class names are compared after normalisation: a leading `/<letter>/` is dropped, and `/`, `_`
//! and spaces are all treated as one separator, so `living_room`, `living room` and
//! `/l/living_room` are the same class.

use super::DataError;

/// The `sun10` preset in its fixed label order: (display name, SUN397 `ClassName.txt` key).
pub const SUN10: [(&str, &str); 10] = [
    ("beach", "/b/beach"),
    ("forest", "/f/forest/broadleaf"),
    ("mountain", "/m/mountain"),
    ("kitchen", "/k/kitchen"),
    ("bedroom", "/b/bedroom"),
    ("street", "/s/street"),
    ("restaurant", "/r/restaurant"),
    ("office", "/o/office"),
    ("living room", "/l/living_room"),
    ("park", "/p/park"),
];

/// Label indices of the `sun10` classes in the Hugging Face `tanganke/sun397` ClassLabel order
/// (same order as [`SUN10`]).
pub const SUN10_HF_LABELS: [u32; 10] = [46, 159, 244, 213, 48, 335, 300, 255, 227, 265];

/// Which classes of a source to use, and in which label order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassSelection {
    /// Every class of the source, in the source's order.
    All,
    /// The `sun10` preset ([`SUN10`]), in that order, with its display names.
    Sun10,
    /// These classes, in this order (names as in the source, normalised as described above).
    Names(Vec<String>),
}

impl ClassSelection {
    /// Parse `all`, `sun10` or a comma-separated list of names.
    pub fn parse(s: &str) -> ClassSelection {
        match s.trim() {
            "" | "all" => ClassSelection::All,
            "sun10" => ClassSelection::Sun10,
            list => ClassSelection::Names(
                list.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect(),
            ),
        }
    }

    /// Resolve against a source's class keys (in source order). Returns, for each selected class
    /// in output-label order, `(source index, display name)`.
    ///
    /// `display` gives the display name the source would use for a source key.
    pub fn resolve(
        &self,
        source_keys: &[String],
        display: impl Fn(&str) -> String,
        context: &str,
    ) -> Result<Vec<(usize, String)>, DataError> {
        let norm: Vec<String> = source_keys.iter().map(|k| normalize_class(k)).collect();
        let find = |name: &str| -> Result<usize, DataError> {
            let n = normalize_class(name);
            norm.iter()
                .position(|k| *k == n)
                .ok_or_else(|| DataError::UnknownClass {
                    name: name.to_string(),
                    context: context.to_string(),
                })
        };
        match self {
            ClassSelection::All => Ok(source_keys
                .iter()
                .enumerate()
                .map(|(i, k)| (i, display(k)))
                .collect()),
            ClassSelection::Sun10 => SUN10
                .iter()
                .map(|(name, key)| Ok((find(key)?, name.to_string())))
                .collect(),
            ClassSelection::Names(names) => names
                .iter()
                .map(|n| {
                    let i = find(n)?;
                    Ok((i, display(&source_keys[i])))
                })
                .collect(),
        }
    }
}

/// Normalised class key: `/l/living_room` → `living room`, `forest/broadleaf` →
/// `forest broadleaf`, `Living_Room` → `living room`.
pub fn normalize_class(name: &str) -> String {
    let mut s = name.trim();
    // Drop a leading "/x/" letter directory (SUN397 ClassName.txt style).
    let b = s.as_bytes();
    if b.len() > 3 && b[0] == b'/' && b[2] == b'/' && b[1].is_ascii_alphabetic() {
        s = &s[3..];
    }
    s.trim_matches('/')
        .split(['/', '_', ' '])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
