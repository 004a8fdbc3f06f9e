//! Loosely typed YAML leaves: a value that is "a number or a string", and "one or a list".
//!
//! Owns [`Scalar`] and [`Items`] and their `Deserialize` impls. They accept every YAML node so
//! that deserialization itself never fails on them: a float, boolean, list or mapping where a
//! scalar belongs becomes [`Scalar::Other`], which the compiler reports at the value's own
//! position (the parser would point at the key instead). They never interpret text: ports,
//! networks and durations are parsed in `parse`.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::error::escaped;

/// A YAML scalar where a number or a string is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// An unquoted integer.
    Int(i128),
    /// A string, quoted or plain.
    Text(String),
    /// Anything else, described for error messages ("a list", "boolean `true`"...).
    Other(String),
}

impl Scalar {
    /// How the value reads in an error message ("number 70000", "`abc`", "a list").
    pub fn describe(&self) -> String {
        match self {
            Scalar::Int(n) => format!("number {n}"),
            Scalar::Text(text) => format!("`{}`", escaped(text)),
            Scalar::Other(what) => what.clone(),
        }
    }
}

/// A value written either alone or as a list (`src: 10.0.0.0/8` or `src: [a, b]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Items {
    /// A single value; its position is the enclosing `Spanned`'s.
    One(Scalar),
    /// A list, each element with its own position.
    Many(Vec<Spanned<Scalar>>),
}

/// Visits any node and turns it into a [`Scalar`]; lists and mappings are skipped over.
struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a string")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other(format!("boolean `{v}`")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Scalar, E> {
        Ok(match i128::try_from(v) {
            Ok(n) => Scalar::Int(n),
            Err(_) => Scalar::Other(format!("number {v}")),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other(format!("non-integer number `{v}`")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(v))
    }

    fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<Scalar, E> {
        Ok(Scalar::Other("binary data".to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other("an empty value (null)".to_owned()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        Scalar::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other("a list".to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other("a mapping".to_owned()))
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// Visits any node: a list becomes [`Items::Many`], everything else one [`Scalar`].
struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Items;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or a list of values")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Items, E> {
        ScalarVisitor.visit_bool(v).map(Items::One)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Items, E> {
        ScalarVisitor.visit_i64(v).map(Items::One)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Items, E> {
        ScalarVisitor.visit_u64(v).map(Items::One)
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Items, E> {
        ScalarVisitor.visit_i128(v).map(Items::One)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Items, E> {
        ScalarVisitor.visit_u128(v).map(Items::One)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Items, E> {
        ScalarVisitor.visit_f64(v).map(Items::One)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Items, E> {
        ScalarVisitor.visit_str(v).map(Items::One)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Items, E> {
        ScalarVisitor.visit_string(v).map(Items::One)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Items, E> {
        ScalarVisitor.visit_bytes(v).map(Items::One)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Items, E> {
        ScalarVisitor.visit_unit().map(Items::One)
    }

    fn visit_none<E: de::Error>(self) -> Result<Items, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        Items::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Scalar>>()? {
            items.push(item);
        }
        Ok(Items::Many(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
        ScalarVisitor.visit_map(map).map(Items::One)
    }
}

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemsVisitor)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Doc {
        a: Spanned<Scalar>,
        b: Option<Spanned<Items>>,
    }

    fn doc(yaml: &str) -> Doc {
        match serde_saphyr::from_str::<Doc>(yaml) {
            Ok(doc) => doc,
            Err(err) => panic!("{yaml:?} did not deserialize: {err}"),
        }
    }

    #[test]
    fn numbers_and_strings_are_kept_apart() {
        assert_eq!(doc("a: 2121\n").a.value, Scalar::Int(2121));
        assert_eq!(doc("a: -3\n").a.value, Scalar::Int(-3));
        assert_eq!(doc("a: \"2121\"\n").a.value, Scalar::Text("2121".into()));
        assert_eq!(doc("a: 1-2\n").a.value, Scalar::Text("1-2".into()));
    }

    #[test]
    fn other_nodes_become_described_values_at_their_own_position() {
        let d = doc("a: [1, 2]\n");
        assert_eq!(d.a.value, Scalar::Other("a list".into()));
        assert_eq!((d.a.referenced.line(), d.a.referenced.column()), (1, 4));
        assert_eq!(doc("a: {x: 1}\n").a.value.describe(), "a mapping");
        assert_eq!(doc("a: true\n").a.value.describe(), "boolean `true`");
        assert_eq!(
            doc("a: 1.5\n").a.value.describe(),
            "non-integer number `1.5`"
        );
    }

    #[test]
    fn items_are_one_or_many_with_positions() {
        let one = doc("a: 1\nb: x\n").b.map(|b| b.value);
        assert_eq!(one, Some(Items::One(Scalar::Text("x".into()))));
        let many = doc("a: 1\nb: [x, 2]\n").b.map(|b| b.value);
        let Some(Items::Many(list)) = many else {
            panic!("expected a list, got {many:?}");
        };
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].value, Scalar::Int(2));
        assert_eq!(list[1].referenced.column(), 8);
        assert!(doc("a: 1\n").b.is_none());
    }
}
