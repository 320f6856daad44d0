//! Maps a path in a YAML document (`steps[3].init-token.label`) to the line
//! and column where that node starts.
//!
//! serde_yaml reports positions for the errors it finds itself (bad YAML,
//! unknown or missing fields), but a meaning error found after parsing (an
//! unknown secret, a duplicate step id) has only a path. This second, marked
//! parse turns the path back into a position so every error a reviewer sees
//! reads `file:line:column: what is wrong`.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the document, printed as `steps[3].init-token.label`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct YamlPath(pub Vec<Seg>);

impl YamlPath {
    pub fn root() -> Self {
        YamlPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.to_string()));
        p
    }

    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// The nearest ancestor (or self) that exists in `positions`.
    fn ancestors(&self) -> impl Iterator<Item = YamlPath> + '_ {
        (0..=self.0.len())
            .rev()
            .map(|n| YamlPath(self.0[..n].to_vec()))
    }
}

impl std::fmt::Display for YamlPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Positions of every node of a document, by path.
pub struct Locator {
    positions: HashMap<YamlPath, Position>,
}

impl Locator {
    /// Builds the map; a document that does not parse yields an empty map
    /// (serde_yaml has already reported its syntax error by then).
    pub fn new(source: &str) -> Self {
        let mut recorder = Recorder::default();
        let mut parser = Parser::new_from_str(source);
        if parser.load(&mut recorder, false).is_err() {
            return Locator {
                positions: HashMap::new(),
            };
        }
        Locator {
            positions: recorder.positions,
        }
    }

    /// Where the node at `path` starts, or where its nearest existing
    /// ancestor starts (a missing field is reported at its parent).
    pub fn position(&self, path: &YamlPath) -> Position {
        path.ancestors()
            .find_map(|p| self.positions.get(&p).copied())
            .unwrap_or(Position { line: 1, column: 1 })
    }
}

enum Frame {
    Sequence {
        path: YamlPath,
        next: usize,
    },
    /// Inside a mapping: `key` is Some while its value is awaited.
    Mapping {
        path: YamlPath,
        key: Option<String>,
        keys_seen: usize,
    },
}

#[derive(Default)]
struct Recorder {
    stack: Vec<Frame>,
    positions: HashMap<YamlPath, Position>,
    first_key_of: Option<YamlPath>,
}

impl Recorder {
    /// The path of the node that starts now, advancing the parent's cursor.
    /// Returns None when the node is a mapping key (keys are not nodes we
    /// report on, but the key's text names the value that follows).
    fn begin_node(&mut self, key_text: Option<&str>) -> Option<YamlPath> {
        match self.stack.last_mut() {
            None => Some(YamlPath::root()),
            Some(Frame::Sequence { path, next }) => {
                let p = path.index(*next);
                *next += 1;
                Some(p)
            }
            Some(Frame::Mapping {
                path,
                key,
                keys_seen,
            }) => match key.take() {
                Some(k) => Some(path.key(&k)),
                None => {
                    *key = Some(key_text.unwrap_or("").to_string());
                    // A block mapping's start event points past its first
                    // key; the key itself is where a reader looks.
                    if *keys_seen == 0 {
                        self.first_key_of = Some(path.clone());
                    }
                    *keys_seen += 1;
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Position {
            line: mark.line(),
            column: mark.col() + 1,
        };
        match ev {
            Event::Scalar(text, ..) => {
                if let Some(p) = self.begin_node(Some(&text)) {
                    self.positions.entry(p).or_insert(pos);
                }
                if let Some(mapping) = self.first_key_of.take() {
                    self.positions.insert(mapping, pos);
                }
            }
            Event::Alias(_) => {
                if let Some(p) = self.begin_node(None) {
                    self.positions.entry(p).or_insert(pos);
                }
            }
            Event::SequenceStart(..) => {
                let path = self.begin_node(None).unwrap_or_default();
                self.positions.entry(path.clone()).or_insert(pos);
                self.stack.push(Frame::Sequence { path, next: 0 });
            }
            Event::MappingStart(..) => {
                let path = self.begin_node(None).unwrap_or_default();
                self.positions.entry(path.clone()).or_insert(pos);
                self.stack.push(Frame::Mapping {
                    path,
                    key: None,
                    keys_seen: 0,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
id: demo
steps:
  - id: one
    title: First
  - id: two
    init-token:
      label: x
";

    #[test]
    fn finds_nested_values_with_one_based_positions() {
        let loc = Locator::new(DOC);
        let p = YamlPath::root()
            .key("steps")
            .index(1)
            .key("init-token")
            .key("label");
        assert_eq!(p.to_string(), "steps[1].init-token.label");
        assert_eq!(
            loc.position(&p),
            Position {
                line: 7,
                column: 14
            }
        );
        let id = YamlPath::root().key("steps").index(0).key("id");
        assert_eq!(loc.position(&id), Position { line: 3, column: 9 });
    }

    #[test]
    fn a_missing_node_is_reported_at_its_nearest_ancestor() {
        let loc = Locator::new(DOC);
        let p = YamlPath::root().key("steps").index(1).key("nothing");
        assert_eq!(loc.position(&p), Position { line: 5, column: 5 });
    }
}
